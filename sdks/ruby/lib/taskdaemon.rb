# frozen_string_literal: true

require_relative "taskdaemon/version"
require_relative "taskdaemon/errors"
require_relative "taskdaemon/results"
require_relative "taskdaemon/fields"
require_relative "taskdaemon/dependency"
require_relative "taskdaemon/task"
require_relative "taskdaemon/json_check"
require_relative "taskdaemon/strict_json"
require_relative "taskdaemon/wire"
require_relative "taskdaemon/dispatch"
require_relative "taskdaemon/channel"
require_relative "taskdaemon/runner"
require_relative "taskdaemon/testing"

# Write TaskDaemon handlers in Ruby: JSON-lines tasks in on stdin, one result line out on stdout
# for each, in order, nothing lost (the handler protocol, version 1).
#
# @example A handler
#   require "taskdaemon"
#
#   TaskDaemon.run do |task|
#     name = task.task_data.fetch("name", "World")
#     TaskDaemon::Success.new({ "message" => "Hello, #{name}!" })
#   end
module TaskDaemon
  # Serve tasks from stdin until EOF or SIGTERM, then return.
  #
  # Each task goes to the handler; what it returns is written as the task's result:
  # a {Success} or {Error} as is, nil as a success with a null result, anything else as an
  # InvalidReturn error. An exception that escapes the handler becomes a non-retryable {Error}
  # carrying its class name and backtrace, and the loop goes on. Malformed lines get an error
  # result too. Tasks are handled one at a time, in order.
  #
  # While it runs, ordinary output (puts, print, $stdout, child processes) goes to stderr:
  # only results and events reach stdout. SIGTERM or SIGINT while idle returns at once; while a
  # task runs, the task is finished and answered first.
  #
  # @param handler [#call, Hash{String, Symbol => #call}, nil] something that takes a {Task}
  #   (a Proc, a Method, an object with #call), or a Hash from task_type to such handlers
  # @yieldparam task [Task] when a block is the handler
  # @yieldreturn [Success, Error, nil]
  # @return [nil]
  # @raise [ArgumentError] with neither a handler nor a block, or with both
  # @raise [TypeError] for a handler of the wrong shape
  def self.run(handler = nil, &block)
    raise ArgumentError, "TaskDaemon.run takes a handler or a block, not both" if !handler.nil? && block

    handler ||= block
    if handler.nil?
      raise ArgumentError, "TaskDaemon.run needs a handler: a block, a callable taking a Task, " \
                           "or a Hash from task_type to callables"
    end

    # The process's own descriptors 0 and 1, whatever $stdin and $stdout point at.
    Runner.new(Dispatcher.new(handler), input: STDIN, output: STDOUT).run # rubocop:disable Style/GlobalStdStream
  end
end
