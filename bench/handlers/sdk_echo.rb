# frozen_string_literal: true

# Echo handler written with the Ruby SDK: answers each task with its task_data.
require "taskdaemon"

TaskDaemon.run { |task| TaskDaemon::Success.new(task.task_data) }
