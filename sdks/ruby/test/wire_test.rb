# frozen_string_literal: true

require_relative "test_helper"

class WireParseTest < Minitest::Test
  Wire = TaskDaemon.const_get(:Wire)

  def parse(line)
    Wire.parse_line(line.b)
  end

  def assert_rejected(line, error_type, message, task_id = nil)
    parsed = parse(line)

    assert_kind_of Wire::Malformed, parsed, line.inspect
    assert_equal [error_type, message, task_id, false],
                 [parsed.error.error_type, parsed.error.message, parsed.task_id, parsed.error.retryable?]
  end

  def test_a_valid_task_line_becomes_a_task
    task = parse(%({"task_id":"t1","task_type":"echo","task_data":{"n":1},"attempt":2,"extra":true}\r\n))

    assert_equal({ task_id: "t1", task_type: "echo", task_data: { "n" => 1 }, attempt: 2, tags: {}, dependencies: {} },
                 task.to_h)
  end

  def test_dependencies_are_read_into_dependency_objects
    dependencies = %({"load":{"task_id":"t1","task_type":"fetch","result":{"rows":42},"later":1},) +
                   %("none":{"task_id":"t2","task_type":"quiet","result":null}})
    task = parse(%({"task_id":"t3","task_type":"x","task_data":{},"attempt":0,"dependencies":#{dependencies}}))

    assert_equal({ "load" => TaskDaemon::Dependency.new(task_id: "t1", task_type: "fetch", result: { "rows" => 42 }),
                   "none" => TaskDaemon::Dependency.new(task_id: "t2", task_type: "quiet") }, task.dependencies)
    assert_predicate task.dependencies, :frozen?
  end

  def test_malformed_dependencies_are_an_invalid_task_naming_the_field
    {
      "[]" => "dependencies must be an object, got array",
      "null" => "dependencies must be an object, got null",
      '{"load":"t1"}' => 'dependencies["load"] must be an object, got string',
      '{"load":{"task_id":"t1","task_type":"f"}}' => 'dependencies["load"].result is missing',
      '{"load":{"task_type":"f","result":1}}' => 'dependencies["load"].task_id is missing',
      '{"load":{"task_id":5,"task_type":"f","result":1}}' =>
        'dependencies["load"].task_id must be a string, got integer',
      '{"load":{"task_id":"t1","task_type":"","result":1}}' => 'dependencies["load"].task_type must not be empty'
    }.each do |dependencies, message|
      assert_rejected(%({"task_id":"t3","task_type":"x","task_data":{},"attempt":0,"dependencies":#{dependencies}}),
                      "InvalidTask", message, "t3")
    end
  end

  def test_tags_are_read_and_tags_that_are_not_strings_are_an_invalid_task
    task = parse(%({"task_id":"t1","task_type":"x","task_data":{},"attempt":0,"tags":{"tenant":"acme"}}))

    assert_equal({ "tenant" => "acme" }, task.tags)
    assert_rejected(%({"task_id":"t1","task_type":"x","task_data":{},"attempt":0,"tags":{"n":1}}),
                    "InvalidTask", 'tags["n"] must be a string, got integer', "t1")
  end

  def test_blank_lines_are_skipped
    ["", "\n", "\r\n", " \t \r", "\r"].each { |line| assert_nil parse(line), line.inspect }
  end

  def test_a_whole_float_attempt_counts_as_an_integer
    assert_equal 1, parse(%({"task_id":"t1","task_type":"x","task_data":{},"attempt":1.0})).attempt
  end

  def test_invalid_utf8_names_the_byte_and_its_offset
    assert_rejected("{\"a\":\"\xC3(\"}", "InvalidEncoding", "line is not valid UTF-8: invalid byte 0xC3 at byte 6")
    assert_rejected("\xED\xA0\x80", "InvalidEncoding", "line is not valid UTF-8: invalid byte 0xED at byte 0")
  end

  def test_json_that_ruby_accepts_but_rfc_8259_does_not_is_refused
    assert_rejected(%({"task_id":"t1" /* note */,"task_type":"x","task_data":{},"attempt":0}),
                    "InvalidJSON", "line is not valid JSON: comments are not JSON")
    assert_rejected(%({"task_id":"t1","task_type":"x","task_data":{"s":"\\x41"},"attempt":0}),
                    "InvalidJSON", "line is not valid JSON: invalid escape in a string")
  end

  def test_slashes_and_escapes_inside_strings_are_fine
    task = parse(%({"task_id":"t/1","task_type":"x","task_data":{"u":"http://a/*b*/","e":"\\\\x\\/\\n\\u0041"},"attempt":0}))

    assert_equal({ "u" => "http://a/*b*/", "e" => "\\x/\nA" }, task.task_data)
  end

  def test_parser_messages_are_shortened
    parsed = parse("x#{'y' * 100_000}")

    assert_operator parsed.error.message.length, :<, 300
  end

  def test_deep_nesting_is_refused_as_invalid_json
    assert_equal "InvalidJSON", parse(("[" * 5000) + ("]" * 5000)).error.error_type
  end

  def test_field_problems_name_the_field
    assert_rejected(%({"task_type":"x","task_data":{},"attempt":0}), "InvalidTask", "task_id is missing")
    assert_rejected(%({"task_id":"t1","task_type":"x","task_data":null,"attempt":0}), "InvalidTask",
                    "task_data must be an object, got null", "t1")
    assert_rejected(%({"task_id":"t1","task_type":"x","task_data":{},"attempt":"1"}), "InvalidTask",
                    "attempt must be an integer, got string", "t1")
    assert_rejected("[]", "InvalidTask", "a task must be a JSON object, got array")
  end
end

class WireEncodeTest < Minitest::Test
  Wire = TaskDaemon.const_get(:Wire)

  def encode(result)
    line, carried = Wire.result_line(result, "t1")
    assert line.end_with?("\n")
    refute_includes line.chomp, "\n"
    [JSON.parse(line), carried]
  end

  def test_results_are_compact_utf8_json_lines
    line, = Wire.result_line(TaskDaemon::Success.new({ "s" => "日本", sym: :ok, "f" => 0.5 }), "t1")

    assert_equal %({"status":"success","result":{"s":"日本","sym":"ok","f":0.5},"task_id":"t1"}\n), line
    assert_equal Encoding::UTF_8, line.encoding
  end

  def test_values_json_cannot_carry_become_unserialisable_result_errors_naming_the_path
    circular = []
    circular << circular
    cases = {
      TaskDaemon::Success.new({ "x" => [1, Float::NAN] }) => 'result["x"][1] is NaN, which JSON cannot carry',
      TaskDaemon::Success.new(Float::INFINITY) => "result is Infinity, which JSON cannot carry",
      TaskDaemon::Success.new({ "at" => Time.at(0) }) => 'result["at"] is a Time, which JSON cannot carry',
      TaskDaemon::Success.new(Object.new) => "result is an Object, which JSON cannot carry",
      TaskDaemon::Success.new(circular) => "result[0] contains itself (a circular structure)",
      TaskDaemon::Success.new("\xFF") => "result is a string that is not valid UTF-8",
      TaskDaemon::Success.new({ 1 => 2 }) => "result has the key 1 (Integer); JSON object keys are strings or symbols",
      TaskDaemon::Success.new(1, metadata: { "t" => -Float::INFINITY }) => 'metadata["t"] is -Infinity, which JSON ' \
                                                                           "cannot carry",
      TaskDaemon::Error.new("\xFF".b) => "error is a string that is not valid UTF-8"
    }
    cases.each do |result, detail|
      message, carried = encode(result)
      field = detail[/\A[a-z]+/]

      assert_equal "UnserialisableResult", message["error_type"], detail
      assert_equal "#{field} is not JSON-serialisable: #{detail}", message["error"]
      assert_equal [false, "t1"], message.values_at("retryable", "task_id")
      assert_equal message["error"], carried.message
    end
  end

  def test_nesting_deeper_than_the_limit_is_unserialisable
    deep = [1]
    3000.times { deep = [deep] }
    message, = encode(TaskDaemon::Success.new(deep))

    assert_equal "UnserialisableResult", message["error_type"]
    assert_match(/nested deeper than 2000 levels/, message["error"])
  end

  def test_shared_but_not_circular_values_are_fine
    shared = { "a" => 1 }
    message, = encode(TaskDaemon::Success.new([shared, shared]))

    assert_equal [{ "a" => 1 }, { "a" => 1 }], message["result"]
  end

  def test_event_text_that_is_not_utf8_is_repaired
    line = Wire.event_line({ "event" => "log", "task_id" => "t1", "level" => "info", "message" => "a\xFFb".b })

    assert_equal "a\uFFFDb", JSON.parse(line)["message"]
    latin1 = Wire.event_line({ "event" => "log", "message" => "caf\xE9".dup.force_encoding(Encoding::ISO_8859_1) })
    assert_equal "café", JSON.parse(latin1)["message"]
  end
end
