# frozen_string_literal: true

# One handler program serving a task type per behaviour the process tests check.
require "taskdaemon"

# Raised by the "raise" task type, two calls deep, so the traceback has frames to show.
class ValidationFailed < StandardError; end

def fail_deep(message)
  raise ValidationFailed, message
end

LOOKS_LIKE_A_RESULT = '{"status":"success","result":"forged","task_id":"t1"}'

TaskDaemon.run(
  {
    "echo" => ->(task) { TaskDaemon::Success.new(task.to_h.transform_keys(&:to_s)) },
    "print" => lambda do |_task|
      puts LOOKS_LIKE_A_RESULT
      print LOOKS_LIKE_A_RESULT, "\n"
      $stdout.write(LOOKS_LIKE_A_RESULT, "\n")
      STDOUT.puts LOOKS_LIKE_A_RESULT # rubocop:disable Style/GlobalStdStream -- the constant on purpose
      system("echo '#{LOOKS_LIKE_A_RESULT}'")
      system("echo", LOOKS_LIKE_A_RESULT)
      TaskDaemon::Success.new("printed")
    end,
    "read_stdin" => ->(_task) { TaskDaemon::Success.new($stdin.read + `cat`) },
    "raise" => ->(task) { fail_deep(task.task_data.fetch("message", "bad input")) },
    "nan" => ->(_task) { TaskDaemon::Success.new({ "x" => [1, Float::NAN] }) },
    "time" => ->(_task) { TaskDaemon::Success.new(Time.at(0)) },
    "nil" => ->(_task) {},
    "hash" => ->(_task) { { "a" => 1 } },
    "error" => lambda do |_task|
      TaskDaemon::Error.new("busy", retryable: true, retry_after: 2.5, error_type: "Busy", metadata: { "n" => 1 })
    end,
    "events" => lambda do |task|
      task.log("starting", level: :debug)
      task.progress(0.5, "halfway")
      task.log("done")
      TaskDaemon::Success.new("with events", metadata: { "events" => 3 })
    end,
    "sleep" => lambda do |task|
      task.log("started") # tells the test the task is in hand
      sleep task.task_data.fetch("seconds")
      TaskDaemon::Success.new("slept")
    end,
    "exit" => ->(_task) { exit 3 },
    # Keeps the task, so that "stale_log" can try to log for it once it has been answered.
    "keep" => lambda do |task|
      $kept_task = task # rubocop:disable Style/GlobalVars -- shared between two tasks on purpose
      nil
    end,
    "stale_log" => lambda do |_task|
      $kept_task.log("too late") # rubocop:disable Style/GlobalVars -- shared between two tasks on purpose
      TaskDaemon::Success.new("logged late")
    end
  }
)
$stderr.puts "taskdaemon: run returned" # rubocop:disable Style/StderrPuts -- the tests look for it
