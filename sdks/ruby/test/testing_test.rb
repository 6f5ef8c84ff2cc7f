# frozen_string_literal: true

require_relative "test_helper"

class TestingCallTest < Minitest::Test
  include ProtocolAssertions

  def call(handler, task_data = {}, **options)
    outcome = TaskDaemon::Testing.call(handler, task_data, **options)
    assert_valid_result(outcome.message)
    outcome.events.each { |event| assert_valid_event(event) }
    outcome
  end

  def test_a_success_comes_back_with_its_wire_message
    outcome = call(->(task) { TaskDaemon::Success.new({ "hi" => task.task_data["name"] }) }, { "name" => "Ada" })

    assert_predicate outcome, :success?
    assert_equal TaskDaemon::Success.new({ "hi" => "Ada" }), outcome.result
    assert_equal({ "status" => "success", "result" => { "hi" => "Ada" }, "task_id" => "test-task" }, outcome.message)
    assert_predicate outcome, :frozen?
  end

  def test_task_fields_default_and_can_be_set
    seen = nil
    call(->(task) { (seen = task.to_h) && nil }, {})

    assert_equal({ task_id: "test-task", task_type: "test", task_data: {}, attempt: 0, tags: {}, dependencies: {} },
                 seen)
    call(lambda { |task|
      seen = task.to_h
      nil
    }, { "a" => 1 }, task_type: "resize", task_id: "abc", attempt: 2, tags: { "t" => "v" })

    assert_equal({ task_id: "abc", task_type: "resize", task_data: { "a" => 1 }, attempt: 2, tags: { "t" => "v" },
                   dependencies: {} }, seen)
  end

  def test_a_step_reads_its_parents_result_from_the_given_dependencies
    report = lambda do |task|
      TaskDaemon::Success.new({ "rows" => task.dependencies.fetch("load").result.fetch("rows"),
                                "from" => task.dependencies.keys })
    end
    load = TaskDaemon::Dependency.new(task_id: "t1", task_type: "fetch", result: { "rows" => 42 })
    outcome = call(report, {}, dependencies: { "load" => load })

    assert_equal({ "rows" => 42, "from" => ["load"] }, outcome.message["result"])
  end

  def test_task_data_reaches_the_handler_as_it_would_from_the_wire
    seen = nil
    call(->(task) { (seen = task.task_data) && nil }, { name: "Ada", nested: { list: [:x] } })

    assert_equal({ "name" => "Ada", "nested" => { "list" => ["x"] } }, seen)
    assert_raises(ArgumentError) { TaskDaemon::Testing.call(->(_) {}, { "t" => Time.now }) }
    assert_raises(TypeError) { TaskDaemon::Testing.call(->(_) {}, [1]) }
  end

  def test_returning_nil_answers_success_with_a_null_result
    outcome = call(->(_task) {})

    assert_equal({ "status" => "success", "result" => nil, "task_id" => "test-task" }, outcome.message)
  end

  def test_returning_something_else_answers_invalid_return
    outcome = call(->(_task) { { "a" => 1 } })

    assert_equal "InvalidReturn", outcome.message["error_type"]
    assert_equal "the handler returned Hash; return TaskDaemon::Success, TaskDaemon::Error or nil",
                 outcome.message["error"]
    refute outcome.message["retryable"]
  end

  def test_a_returned_error_is_sent_as_is
    error = TaskDaemon::Error.new("busy", retryable: true, retry_after: 3, error_type: "Busy")
    outcome = call(->(_task) { error })

    assert_same error, outcome.result
    assert_equal({ "status" => "error", "error" => "busy", "retryable" => true, "task_id" => "test-task",
                   "error_type" => "Busy", "retry_after" => 3 }, outcome.message)
  end

  class ValidationFailed < StandardError; end

  def raise_deep(message)
    raise ValidationFailed, message
  end

  def test_an_exception_becomes_a_non_retryable_error_with_its_class_and_traceback
    outcome = call(->(_task) { raise_deep("name is missing") })

    assert_equal "name is missing", outcome.message["error"]
    assert_equal "TestingCallTest::ValidationFailed", outcome.message["error_type"]
    refute outcome.message["retryable"]
    assert_match(/name is missing \(TestingCallTest::ValidationFailed\)/, outcome.message["traceback"])
    assert_match(/in `raise_deep'/, outcome.message["traceback"])
  end

  def test_an_exception_with_an_empty_message_is_named_by_its_class
    empty = Class.new(StandardError) { def message = "" }
    outcome = call(->(_task) { raise empty })

    assert_equal %w[StandardError StandardError], outcome.message.values_at("error", "error_type")
  end

  class BrokenMessageError < StandardError
    def message = raise("broken message")
  end

  def test_an_exception_whose_message_fails_is_still_answered
    outcome = call(->(_task) { raise BrokenMessageError })

    assert_equal %w[TestingCallTest::BrokenMessageError TestingCallTest::BrokenMessageError],
                 outcome.message.values_at("error", "error_type")
    assert_kind_of String, outcome.message["traceback"]
  end

  def test_exit_and_signals_become_error_outcomes_instead_of_stopping_the_caller
    outcome = call(->(_task) { exit 3 })

    assert_equal "SystemExit", outcome.message["error_type"]
  end

  def test_a_hash_handler_dispatches_by_task_type
    handlers = { "a" => ->(_) { TaskDaemon::Success.new("A") }, b: ->(_) { TaskDaemon::Success.new("B") } }

    assert_equal "A", call(handlers, task_type: "a").result.result
    assert_equal "B", call(handlers, task_type: "b").result.result
  end

  def test_an_unknown_task_type_lists_the_known_ones_sorted
    handlers = { "zip" => ->(_) {}, "resize" => ->(_) {} }
    outcome = call(handlers, task_type: "crop")

    assert_equal "UnknownTaskType", outcome.message["error_type"]
    assert_equal 'no handler for task_type "crop"; this handler serves: "resize", "zip"', outcome.message["error"]
  end

  def test_events_are_recorded_in_order
    outcome = call(lambda { |task|
      task.log("start", level: "debug")
      task.progress(0.5, "half")
      nil
    })

    assert_equal [
      { "event" => "log", "task_id" => "test-task", "level" => "debug", "message" => "start" },
      { "event" => "progress", "task_id" => "test-task", "progress" => 0.5, "message" => "half" }
    ], outcome.events
  end

  def test_printed_output_is_captured
    outcome = call(lambda { |_task|
      puts "hello"
      print "a", "b"
      $stdout.write("c\n")
      nil
    })

    assert_equal "hello\nabc\n", outcome.output
  end

  def test_an_unserialisable_result_is_replaced_by_an_error
    outcome = call(->(_) { TaskDaemon::Success.new([Float::NAN]) })

    assert_equal "UnserialisableResult", outcome.result.error_type
    assert_equal "result is not JSON-serialisable: result[0] is NaN, which JSON cannot carry", outcome.message["error"]
  end

  def test_methods_and_callable_objects_are_handlers
    callable = Class.new { def call(task) = TaskDaemon::Success.new(task.task_type) }.new

    assert_equal "test", call(callable).result.result
    assert_equal "test", call(method(:type_of)).result.result
  end

  def type_of(task)
    TaskDaemon::Success.new(task.task_type)
  end

  def test_handlers_of_the_wrong_shape_are_refused_at_once
    cases = {
      "not callable" => [TypeError, /handler must respond to #call/],
      {} => [ArgumentError, /handler Hash is empty/],
      { "" => ->(_) {} } => [TypeError, /keys must be non-empty task_type Strings or Symbols/],
      { "a" => 1 } => [TypeError, /the handler for task_type "a" must respond to #call, got Integer/],
      -> {} => [ArgumentError, /the handler must take one argument \(the task\); it takes none/],
      ->(_a, _b) {} => [ArgumentError, /it takes 2 required/]
    }
    cases.each do |handler, (kind, pattern)|
      error = assert_raises(kind, handler.inspect) { TaskDaemon::Testing.call(handler) }
      assert_match pattern, error.message
    end
  end

  def test_plain_procs_take_the_task_whatever_their_arity
    assert_predicate call(proc {}), :success?
  end
end
