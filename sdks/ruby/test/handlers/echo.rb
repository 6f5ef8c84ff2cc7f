# frozen_string_literal: true

# Answers each task with its four fields: the handler the protocol vectors are run against.
require "taskdaemon"

TaskDaemon.run do |task|
  TaskDaemon::Success.new(
    { "task_id" => task.task_id, "task_type" => task.task_type, "task_data" => task.task_data,
      "attempt" => task.attempt }
  )
end
