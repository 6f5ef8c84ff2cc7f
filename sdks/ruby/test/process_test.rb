# frozen_string_literal: true

require_relative "test_helper"

# Real handler processes (test/handlers/behaviours.rb) over real pipes.
class ProcessTest < Minitest::Test
  include ProtocolAssertions

  FORGED = '{"status":"success","result":"forged","task_id":"t1"}'

  def with_handler(&block)
    HandlerProcess.open("behaviours.rb", &block)
  end

  def read_result(handler)
    message = handler.read_json
    assert_valid_result(message)
    message
  end

  def finish(handler)
    handler.close_stdin
    assert_equal "", handler.read_rest, "nothing after the last answer"
    status = handler.wait
    assert_predicate status, :success?, "exit status #{status.inspect}; stderr:\n#{handler.stderr_text}"
  end

  def test_pipelined_tasks_are_answered_one_by_one_in_order
    with_handler do |handler|
      types = %w[echo raise nil echo hash error echo nan echo] * 3
      lines = types.each_with_index.map { |type, index| task_line(task_id: "t#{index}", task_type: type) }
      handler.send_line(lines.join("\n"))
      answers = types.size.times.map { read_result(handler) }

      assert_equal(types.size.times.map { |index| "t#{index}" }, answers.map { |answer| answer["task_id"] })
      assert_equal(%w[success error success success error error success error success] * 3,
                   answers.map { |answer| answer["status"] })
      finish(handler)
    end
  end

  def test_printed_output_and_child_processes_never_reach_stdout
    with_handler do |handler|
      handler.send_line(task_line(task_type: "print"))

      assert_equal({ "status" => "success", "result" => "printed", "task_id" => "t1" }, read_result(handler))
      finish(handler)
      assert_equal 6, handler.stderr_text.scan(FORGED).size, "puts, print, $stdout, STDOUT and two children"
    end
  end

  def test_a_child_or_handler_reading_stdin_cannot_swallow_the_next_task
    with_handler do |handler|
      handler.send_line([task_line(task_id: "a", task_type: "read_stdin"), task_line(task_id: "b")].join("\n"))

      assert_equal({ "status" => "success", "result" => "", "task_id" => "a" }, read_result(handler))
      assert_equal "b", read_result(handler)["task_id"]
      finish(handler)
    end
  end

  def test_an_exception_answers_an_error_with_its_traceback_and_the_loop_goes_on
    with_handler do |handler|
      handler.send_line(task_line(task_type: "raise", task_data: { "message" => "name is missing" }))
      answer = read_result(handler)

      assert_equal ["name is missing", false, "ValidationFailed"], answer.values_at("error", "retryable", "error_type")
      assert_match(/behaviours\.rb:\d+:in `fail_deep': name is missing \(ValidationFailed\)/, answer["traceback"])
      assert_match(/from .*behaviours\.rb:\d+:in `block in <main>'/, answer["traceback"])
      refute_match(%r{lib/taskdaemon/}, answer["traceback"], "the SDK's own frames are left out")
      handler.send_line(task_line(task_id: "next"))
      assert_equal "success", read_result(handler)["status"]
      finish(handler)
    end
  end

  def test_results_json_cannot_carry_are_answered_as_unserialisable
    with_handler do |handler|
      handler.send_line([task_line(task_id: "n", task_type: "nan"),
                         task_line(task_id: "t", task_type: "time")].join("\n"))
      nan = read_result(handler)
      time = read_result(handler)

      assert_equal ["UnserialisableResult", false, "n"], nan.values_at("error_type", "retryable", "task_id")
      assert_equal 'result is not JSON-serialisable: result["x"][1] is NaN, which JSON cannot carry', nan["error"]
      assert_equal "result is not JSON-serialisable: result is a Time, which JSON cannot carry", time["error"]
      finish(handler)
    end
  end

  def test_return_values_nil_and_other_things_and_full_errors
    with_handler do |handler|
      handler.send_line(%w[nil hash error].map { |type| task_line(task_id: type, task_type: type) }.join("\n"))

      assert_equal({ "status" => "success", "result" => nil, "task_id" => "nil" }, read_result(handler))
      assert_equal "InvalidReturn", read_result(handler)["error_type"]
      assert_equal({ "status" => "error", "error" => "busy", "retryable" => true, "task_id" => "error",
                     "error_type" => "Busy", "retry_after" => 2.5, "metadata" => { "n" => 1 } }, read_result(handler))
      finish(handler)
    end
  end

  def test_events_are_written_before_the_result
    with_handler do |handler|
      handler.send_line(task_line(task_type: "events"))
      lines = 4.times.map { handler.read_json }

      lines.first(3).each { |event| assert_valid_event(event) }
      assert_equal([%w[log debug], %w[progress], %w[log info]],
                   lines.first(3).map { |event| [event["event"], event["level"]].compact })
      assert_equal ["success", "with events"], lines.last.values_at("status", "result")
      finish(handler)
    end
  end

  def test_an_event_for_a_task_already_answered_is_dropped_not_sent
    with_handler do |handler|
      handler.send_line([task_line(task_id: "kept", task_type: "keep"),
                         task_line(task_id: "now", task_type: "stale_log")].join("\n"))

      assert_equal "kept", read_result(handler)["task_id"]
      assert_equal({ "status" => "success", "result" => "logged late", "task_id" => "now" }, read_result(handler))
      finish(handler)
      assert_includes handler.stderr_text, "dropped a log event for task kept: its result has already been sent"
    end
  end

  def test_text_round_trips_whatever_the_locale
    HandlerProcess.open("echo.rb", env: { "LANG" => nil, "LC_ALL" => "C" }) do |handler|
      handler.send_line(task_line(task_id: "té", task_data: { "s" => "日本😀" }))

      assert_equal({ "task_id" => "té", "task_type" => "echo", "task_data" => { "s" => "日本😀" }, "attempt" => 0 },
                   read_result(handler)["result"])
      finish(handler)
    end
  end

  def test_a_closed_stdout_stops_the_handler_with_a_clear_error
    with_handler do |handler|
      handler.close_stdout
      handler.send_line(task_line)

      refute_predicate handler.wait, :success?
      assert_includes handler.stderr_text, "the protocol channel (stdout) was closed by its reader"
      assert_includes handler.stderr_text, "TaskDaemon::ChannelClosedError"
    end
  end

  def test_eof_returns_from_run_and_exits_zero
    with_handler do |handler|
      handler.send_line(task_line)
      read_result(handler)
      finish(handler)
      assert_includes handler.stderr_text, "taskdaemon: run returned"
    end
  end

  def test_a_last_line_without_lf_is_answered_at_eof
    with_handler do |handler|
      handler.send_bytes(task_line(task_id: "last"))
      handler.close_stdin

      assert_equal "last", read_result(handler)["task_id"]
      assert_equal "", handler.read_rest
      assert_predicate handler.wait, :success?
    end
  end

  def test_sigterm_during_a_task_finishes_it_answers_and_exits_zero_without_reading_on
    with_handler do |handler|
      handler.send_line([task_line(task_id: "slow", task_type: "sleep", task_data: { "seconds" => 0.5 }),
                         task_line(task_id: "never")].join("\n"))
      assert_equal "started", handler.read_json["message"]
      handler.signal("TERM")

      assert_equal({ "status" => "success", "result" => "slept", "task_id" => "slow" }, read_result(handler))
      assert_equal "", handler.read_rest, "the task after the signal is not read"
      assert_predicate handler.wait, :success?
      assert_includes handler.stderr_text, "taskdaemon: run returned"
    end
  end

  def test_sigterm_and_sigint_while_idle_exit_zero_at_once
    %w[TERM INT].each do |signal|
      with_handler do |handler|
        handler.send_line(task_line)
        read_result(handler) # the loop is up
        if File.exist?("/proc/self/syscall")
          assert handler.wait_until_reading,
                 "the handler is blocked reading its next line"
        end

        handler.signal(signal)
        assert_equal "", handler.read_rest
        assert_predicate handler.wait, :success?, signal
      end
    end
  end

  def test_exit_in_a_handler_answers_the_task_then_exits_with_its_status
    with_handler do |handler|
      handler.send_line([task_line(task_id: "bye", task_type: "exit"), task_line(task_id: "never")].join("\n"))

      assert_equal %w[bye SystemExit], read_result(handler).values_at("task_id", "error_type")
      assert_equal "", handler.read_rest
      assert_equal 3, handler.wait.exitstatus
    end
  end

  def test_a_64_mib_task_round_trips
    size = 64 * 1024 * 1024
    text = "x" * size
    with_handler do |handler|
      handler.send_line(task_line(task_id: "big", task_data: { "text" => text }), timeout: 60)
      line = handler.read_line(timeout: 60)

      assert_operator line.bytesize, :>, size
      answer = JSON.parse(line)
      assert_equal "big", answer["task_id"]
      assert_equal size, answer["result"]["task_data"]["text"].bytesize
      assert_equal text, answer["result"]["task_data"]["text"]
      finish(handler)
    end
  end
end
