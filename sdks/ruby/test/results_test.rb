# frozen_string_literal: true

require_relative "test_helper"

class SuccessTest < Minitest::Test
  def test_wire_message_carries_result_and_task_id
    message = TaskDaemon::Success.new({ "n" => 1 }).to_message("t1")

    assert_equal({ "status" => "success", "result" => { "n" => 1 }, "task_id" => "t1" }, message)
    assert_equal %w[status result task_id], message.keys
  end

  def test_nil_result_is_written_as_null
    assert_equal({ "status" => "success", "result" => nil }, TaskDaemon::Success.new.to_message)
  end

  def test_metadata_is_written_when_given
    message = TaskDaemon::Success.new(1, metadata: { "ms" => 3 }).to_message("t1")

    assert_equal({ "ms" => 3 }, message["metadata"])
  end

  def test_metadata_that_is_not_a_hash_is_refused
    error = assert_raises(TypeError) { TaskDaemon::Success.new(1, metadata: [1]) }
    assert_equal "metadata must be a Hash or nil, got Array", error.message
  end

  def test_success_is_frozen_and_compares_by_value
    success = TaskDaemon::Success.new([1])

    assert_predicate success, :frozen?
    assert_equal TaskDaemon::Success.new([1]), success
    refute_equal TaskDaemon::Success.new([2]), success
    assert_predicate success, :success?
    refute_predicate success, :error?
  end

  def test_success_supports_pattern_matching
    case TaskDaemon::Success.new([2])
    in { result: [Integer => n] } then assert_equal 2, n
    else flunk "pattern did not match"
    end
  end
end

class ErrorResultTest < Minitest::Test
  def test_minimal_error_always_writes_retryable
    message = TaskDaemon::Error.new("boom").to_message("t1")

    assert_equal({ "status" => "error", "error" => "boom", "retryable" => false, "task_id" => "t1" }, message)
  end

  def test_full_error_writes_every_field_in_wire_order
    error = TaskDaemon::Error.new("upstream returned 503",
                                  retryable: true, error_type: "Upstream", retry_after: 2.5,
                                  metadata: { "tries" => 2 }, traceback: "tb")
    message = error.to_message("t1")

    assert_equal %w[status error retryable task_id error_type retry_after traceback metadata], message.keys
    assert_equal [true, "Upstream", 2.5, "tb", { "tries" => 2 }],
                 message.values_at("retryable", "error_type", "retry_after", "traceback", "metadata")
    assert_predicate error, :retryable?
    assert_equal "upstream returned 503", error.error
  end

  def test_error_is_not_an_exception_and_its_base_name_does_not_clash
    refute TaskDaemon::Error <= Exception
    assert TaskDaemon::TaskDaemonError <= StandardError
  end

  def test_bad_arguments_name_the_argument
    cases = {
      -> { TaskDaemon::Error.new(:boom) } => [TypeError, "message must be a String, got Symbol"],
      -> { TaskDaemon::Error.new("x", retryable: "yes") } => [TypeError, 'retryable must be true or false, got "yes"'],
      -> { TaskDaemon::Error.new("x", error_type: "") } => [ArgumentError, "error_type must not be empty"],
      lambda {
        TaskDaemon::Error.new("x", error_type: 3)
      } => [TypeError, "error_type must be a String or nil, got Integer"],
      lambda {
        TaskDaemon::Error.new("x",
                              retry_after: -1)
      } => [ArgumentError, "retry_after must be a finite number of seconds >= 0, got -1"],
      lambda {
        TaskDaemon::Error.new("x",
                              retry_after: Float::NAN)
      } => [ArgumentError, "retry_after must be a finite number of seconds >= 0, got NaN"],
      lambda {
        TaskDaemon::Error.new("x",
                              retry_after: "5")
      } => [TypeError, "retry_after must be a number of seconds (Integer or Float) or nil, got String"],
      -> { TaskDaemon::Error.new("x", metadata: "m") } => [TypeError, "metadata must be a Hash or nil, got String"],
      -> { TaskDaemon::Error.new("x", traceback: 1) } => [TypeError, "traceback must be a String or nil, got Integer"]
    }
    cases.each do |build, (kind, message)|
      error = assert_raises(kind) { build.call }
      assert_equal message, error.message
    end
  end

  def test_error_is_frozen_and_compares_by_value
    error = TaskDaemon::Error.new("x", retryable: true)

    assert_predicate error, :frozen?
    assert_equal TaskDaemon::Error.new("x", retryable: true), error
    refute_equal TaskDaemon::Error.new("x"), error
    assert_predicate error, :error?
  end
end
