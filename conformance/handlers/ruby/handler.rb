# frozen_string_literal: true

# The conformance handler for the Ruby SDK: one behaviour per task_type (see conformance/README.md).
#
# Run by the harness from this directory as `ruby -I ../../../sdks/ruby/lib handler.rb`, or from an
# image built with the Containerfile here.
require "taskdaemon"

# Raised by the `raise` task type; every SDK's handler raises a class of this name.
class ConformanceError < StandardError; end

# The behaviours, by task_type.
module Conformance
  HANDLERS = {
    "echo" => ->(task) { TaskDaemon::Success.new(task.task_data) },
    "value" => ->(task) { TaskDaemon::Success.new(task.task_data["value"]) },
    "attempt" => ->(task) { TaskDaemon::Success.new(task.attempt) },
    "fail" => lambda do |task|
      data = task.task_data
      TaskDaemon::Error.new(data["message"], retryable: data.fetch("retryable", false),
                                             error_type: data["error_type"], retry_after: data["retry_after"],
                                             metadata: data["metadata"])
    end,
    "metadata" => ->(task) { TaskDaemon::Success.new(task.task_data["result"], metadata: task.task_data["metadata"]) },
    "raise" => ->(task) { raise ConformanceError, task.task_data.fetch("message", "") },
    "unserialisable" => lambda do |task|
      case task.task_data.fetch("where", "result")
      when "nested" then TaskDaemon::Success.new({ "ok" => [1, { "bad" => Float::INFINITY }] })
      when "metadata" then TaskDaemon::Success.new("fine", metadata: { "bad" => Float::NAN })
      when "string" then TaskDaemon::Success.new({ "text" => "invalid UTF-8 \xFF".dup.force_encoding(Encoding::UTF_8) })
      else TaskDaemon::Success.new(Float::NAN)
      end
    end,
    "invalid-return" => ->(_task) { { "status" => "success", "result" => "not a Success" } },
    "noise" => lambda do |task|
      line = task.task_data["line"]
      puts line
      $stdout.write("#{line}\n")
      $stdout.flush
      warn task.task_data.fetch("stderr", "noise on stderr")
      TaskDaemon::Success.new("quiet")
    end,
    "sleep" => lambda do |task|
      sleep(task.task_data["ms"] / 1000.0)
      TaskDaemon::Success.new({ "slept_ms" => task.task_data["ms"] })
    end,
    "exit" => ->(task) { exit!(task.task_data["code"]) },
    "large" => ->(task) { TaskDaemon::Success.new("x" * task.task_data["bytes"]) },
    "events" => lambda do |task|
      task.task_data["events"].each do |event|
        if event.key?("log")
          task.log(event["log"], level: event.fetch("level", "info"))
        else
          task.progress(event["progress"], event["message"])
        end
      end
      TaskDaemon::Success.new("done")
    end,
    "none" => ->(_task) {},
    "dependencies" => lambda do |task|
      TaskDaemon::Success.new(task.dependencies.transform_values { |dependency| dependency.to_h.transform_keys(&:to_s) })
    end
  }.freeze
end

TaskDaemon.run(Conformance::HANDLERS)
