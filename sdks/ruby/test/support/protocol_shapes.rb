# frozen_string_literal: true

# The result and event schemas (protocol/schema/result.schema.json, event.schema.json) checked by
# hand: no JSON Schema validator ships with Ruby or Debian's Ruby packages. Every rule of both
# schemas is here (required members, types, enums, minimums, lengths); the test
# protocol_shapes_test.rb proves it against every example in protocol/vectors/result.json and
# event.json, so a checker that drifted from the schemas would fail there first.
module ProtocolShapes
  RESULT_STATUSES = %w[success error].freeze
  EVENT_KINDS = %w[log progress].freeze
  LOG_LEVELS = %w[debug info warning error].freeze

  module_function

  # @return [Array<String>] what breaks the result schema (empty when the message is valid)
  def result_problems(message)
    return ["a result must be an object, got #{message.class}"] unless message.is_a?(Hash)
    return ["status is missing"] unless message.key?("status")
    unless RESULT_STATUSES.include?(message["status"])
      return ["status must be success or error, got #{message['status'].inspect}"]
    end

    problems = []
    if message.key?("task_id") && !non_empty_string?(message["task_id"])
      problems << "task_id must be a non-empty string"
    end
    problems << "metadata must be an object" if message.key?("metadata") && !message["metadata"].is_a?(Hash)
    if message["status"] == "success"
      problems << "a success needs result" unless message.key?("result")
    else
      problems.concat(error_problems(message))
    end
    problems
  end

  def error_problems(message)
    problems = []
    problems << "an error needs error, a string" unless message["error"].is_a?(String)
    problems << "retryable must be a boolean" if message.key?("retryable") && ![true,
                                                                                false].include?(message["retryable"])
    if message.key?("error_type") && !non_empty_string?(message["error_type"])
      problems << "error_type must be a non-empty string"
    end
    if message.key?("retry_after") && !(number?(message["retry_after"]) && message["retry_after"] >= 0)
      problems << "retry_after must be a number >= 0"
    end
    problems << "traceback must be a string" if message.key?("traceback") && !message["traceback"].is_a?(String)
    problems
  end

  # @return [Array<String>] what breaks the event schema (empty when the message is valid)
  def event_problems(message)
    return ["an event must be an object, got #{message.class}"] unless message.is_a?(Hash)
    return ["an event has no status"] if message.key?("status")
    unless EVENT_KINDS.include?(message["event"])
      return ["event must be log or progress, got #{message['event'].inspect}"]
    end
    return ["task_id must be a non-empty string"] unless non_empty_string?(message["task_id"])

    problems = []
    if message["event"] == "log"
      problems << "level must be one of #{LOG_LEVELS.join(', ')}" unless LOG_LEVELS.include?(message["level"])
      problems << "message must be a string" unless message["message"].is_a?(String)
    else
      progress = message["progress"]
      problems << "progress must be a number from 0 to 1" unless number?(progress) && progress >= 0 && progress <= 1
      problems << "message must be a string" if message.key?("message") && !message["message"].is_a?(String)
    end
    problems
  end

  def non_empty_string?(value)
    value.is_a?(String) && !value.empty?
  end

  def number?(value)
    value.is_a?(Integer) || value.is_a?(Float)
  end
end
