# frozen_string_literal: true

require_relative "test_helper"

EXAMPLES_DIR = File.expand_path("../../../examples", __dir__)
require File.join(EXAMPLES_DIR, "hello/ruby/handler")
require File.join(EXAMPLES_DIR, "wordcount/ruby/handler")

# The Ruby examples: their logic through TaskDaemon::Testing, and each as a real process started
# the way handlers.toml starts it (`ruby -I ../../../sdks/ruby/lib handler.rb` in its directory).
class ExamplesTest < Minitest::Test
  include ProtocolAssertions

  def test_hello_greets_by_name_or_the_world
    assert_equal({ "message" => "Hello, Ada!" }, TaskDaemon::Testing.call(Hello, { name: "Ada" }).result.result)
    assert_equal({ "message" => "Hello, World!" }, TaskDaemon::Testing.call(Hello).result.result)
  end

  def test_hello_refuses_a_name_that_is_not_a_string
    outcome = TaskDaemon::Testing.call(Hello, { name: 42 })

    assert_equal ["name must be a string, got 42", "InvalidInput", false],
                 outcome.message.values_at("error", "error_type", "retryable")
  end

  def test_wordcount_counts_words_and_lists_the_most_frequent
    outcome = TaskDaemon::Testing.call(WordCount, { text: "The cat and the hat. Don't stop: THE end, café", top: 3 })

    assert_equal({ "total" => 10, "distinct" => 8,
                   "top" => [{ "word" => "the", "count" => 3 }, { "word" => "and", "count" => 1 },
                             { "word" => "café", "count" => 1 }] }, outcome.result.result)
    assert_equal({ "characters" => 46 }, outcome.message["metadata"])
    assert_equal(["counted 10 words, 8 distinct"], outcome.events.map { |event| event["message"] })
  end

  def test_wordcount_lists_ten_words_by_default_and_handles_empty_text
    text = (1..12).map { |n| "w#{n} " * n }.join
    top = TaskDaemon::Testing.call(WordCount, { text: text }).result.result["top"]

    assert_equal((3..12).to_a.reverse.map { |n| "w#{n}" }, top.map { |entry| entry["word"] })
    assert_equal({ "total" => 0, "distinct" => 0, "top" => [] },
                 TaskDaemon::Testing.call(WordCount, { text: "" }).result.result)
  end

  def test_wordcount_gives_a_clear_error_for_a_missing_or_wrong_text
    {
      {} => 'task_data must hold "text", the text whose words to count',
      { text: nil } => "text must be a string, got null",
      { text: ["a"] } => "text must be a string, got array",
      { text: "a", top: "3" } => 'top must be an integer >= 0, got "3"'
    }.each do |task_data, message|
      outcome = TaskDaemon::Testing.call(WordCount, task_data)

      assert_equal [message, "InvalidInput", false], outcome.message.values_at("error", "error_type", "retryable")
    end
  end

  def test_each_example_runs_as_a_process_from_its_directory
    { "hello" => { "name" => "Ada" }, "wordcount" => { "text" => "a b a" } }.each do |example, task_data|
      dir = File.join(EXAMPLES_DIR, example, "ruby")
      argv = [RbConfig.ruby, "-I", "../../../sdks/ruby/lib", "handler.rb"]
      stdout, stderr, status = Open3.capture3(*argv, chdir: dir, stdin_data: "#{task_line(task_data: task_data)}\n")

      assert_predicate status, :success?, stderr
      result = stdout.lines.map { |line| JSON.parse(line) }.find { |message| message.key?("status") }
      assert_valid_result(result)
      assert_equal %w[success t1], result.values_at("status", "task_id"), example
    end
  end
end
