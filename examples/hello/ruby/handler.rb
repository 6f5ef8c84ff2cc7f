# frozen_string_literal: true

# The hello handler: answers {"message": "Hello, <name>!"}, name from task_data (default World).
#
# Run it by hand, from this directory:
#   echo '{"task_id":"t1","task_type":"hello","task_data":{"name":"Ada"},"attempt":0}' \
#     | ruby -I ../../../sdks/ruby/lib handler.rb
require "taskdaemon"

# Greets task_data["name"], or the World.
module Hello
  # @param task [TaskDaemon::Task]
  # @return [TaskDaemon::Success, TaskDaemon::Error]
  def self.call(task)
    name = task.task_data.fetch("name", "World")
    unless name.is_a?(String)
      return TaskDaemon::Error.new("name must be a string, got #{name.inspect}", error_type: "InvalidInput")
    end

    TaskDaemon::Success.new({ "message" => "Hello, #{name}!" })
  end
end

TaskDaemon.run(Hello) if $PROGRAM_NAME == __FILE__
