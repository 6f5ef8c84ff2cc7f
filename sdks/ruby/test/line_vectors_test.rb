# frozen_string_literal: true

require_relative "test_helper"
require "base64"

# One generated test per vector in protocol/vectors/lines.json, each against a real handler
# process (test/handlers/echo.rb) over pipes, as vectors/README.md "How to write a runner" says.
class LineVectorsTest < Minitest::Test
  include ProtocolAssertions

  VECTORS_FILE = File.join(PROTOCOL_DIR, "vectors", "lines.json")
  VECTORS = JSON.parse(File.read(VECTORS_FILE)).fetch("cases").flat_map { |group| group.fetch("tests") }
  # A valid task sent after a vector that gets no answer: its answer must come next.
  FOLLOW_UP = { "task_id" => "after", "task_type" => "echo", "task_data" => {}, "attempt" => 0 }.freeze

  def self.line_bytes(vector)
    vector.key?("line_base64") ? Base64.strict_decode64(vector["line_base64"]) : vector.fetch("line").b
  end

  def check_answer(vector, answer)
    expect = vector.fetch("expect")
    explain = "#{vector['id']}: #{vector['description']} (#{vector['why']}); got #{answer.inspect}"
    assert_valid_result(answer)
    case expect.fetch("answer")
    when "task"
      assert_equal({ "status" => "success", "result" => expect.fetch("task"), "task_id" => expect["task"]["task_id"] },
                   answer, explain)
    when "error"
      assert_equal "error", answer["status"], explain
      assert_equal false, answer.fetch("retryable", false), explain
      assert_equal expect.fetch("error_type"), answer["error_type"], explain
      if expect["task_id"].nil?
        refute answer.key?("task_id"), explain
      else
        assert_equal expect["task_id"], answer["task_id"], explain
      end
    else
      assert_equal FOLLOW_UP, answer["result"], "#{explain}: a skipped line gets no answer"
    end
  end

  VECTORS.each do |vector|
    define_method("test_vector_#{vector.fetch('id').tr('-', '_')}") do
      HandlerProcess.open("echo.rb") do |handler|
        handler.send_line(self.class.line_bytes(vector))
        handler.send_line(JSON.generate(FOLLOW_UP)) if vector["expect"]["answer"] == "none"
        check_answer(vector, handler.read_json)
        handler.close_stdin
        assert_equal "", handler.read_rest, "#{vector['id']}: exactly one answer"
        assert_predicate handler.wait, :success?
      end
    end
  end

  def test_all_vectors_pipelined_into_one_process_are_answered_in_order
    HandlerProcess.open("echo.rb") do |handler|
      payload = VECTORS.map { |vector| "#{self.class.line_bytes(vector)}\n".b }.join.b
      handler.send_line(payload + JSON.generate(FOLLOW_UP))
      VECTORS.reject { |vector| vector["expect"]["answer"] == "none" }.each do |vector|
        check_answer(vector, handler.read_json)
      end
      assert_equal FOLLOW_UP, handler.read_json["result"]
      handler.close_stdin
      assert_equal "", handler.read_rest
      assert_predicate handler.wait, :success?
    end
  end

  def test_the_vectors_file_is_found_and_covers_every_kind_of_answer
    assert_equal %w[error none task], VECTORS.map { |vector| vector["expect"]["answer"] }.uniq.sort
  end
end
