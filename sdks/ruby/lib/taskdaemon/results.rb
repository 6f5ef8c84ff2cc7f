# frozen_string_literal: true

module TaskDaemon
  # Checks shared by the two result classes.
  # @api private
  module ResultChecks
    module_function

    # @raise [TypeError] unless metadata is a Hash or nil
    def check_metadata(metadata)
      return if metadata.nil? || metadata.is_a?(Hash)

      raise TypeError, "metadata must be a Hash or nil, got #{metadata.class}"
    end

    # @raise [TypeError, ArgumentError] unless value is nil or a String (non-empty when asked)
    def check_optional_string(name, value, allow_empty: true)
      return if value.nil?
      raise TypeError, "#{name} must be a String or nil, got #{value.class}" unless value.is_a?(String)
      raise ArgumentError, "#{name} must not be empty" if !allow_empty && value.empty?
    end

    # @raise [TypeError, ArgumentError] unless retry_after is nil or a finite number >= 0
    def check_retry_after(retry_after)
      return if retry_after.nil?
      unless retry_after.is_a?(Integer) || retry_after.is_a?(Float)
        raise TypeError, "retry_after must be a number of seconds (Integer or Float) or nil, got #{retry_after.class}"
      end
      return if retry_after.finite? && retry_after >= 0

      raise ArgumentError, "retry_after must be a finite number of seconds >= 0, got #{retry_after.inspect}"
    end
  end
  private_constant :ResultChecks

  # The task was done: {#result} is its value.
  #
  # @example
  #   TaskDaemon::Success.new({ "message" => "Hello, Ada!" })
  #   TaskDaemon::Success.new([1, 2, 3], metadata: { "duration_ms" => 12 })
  #
  # Instances are frozen (the result value itself is not copied or frozen).
  class Success
    # @return [Object] the task's output: any JSON value (Hash, Array, String, Integer, Float,
    #   true, false, nil; Symbols are written as strings)
    attr_reader :result

    # @return [Hash, nil] figures about the run (durations, counts) kept beside the result
    attr_reader :metadata

    # @param result [Object] the task's output, any JSON value; nil is written as +null+
    # @param metadata [Hash, nil] figures about the run, kept with the result, not part of it
    # @raise [TypeError] if metadata is neither a Hash nor nil
    def initialize(result = nil, metadata: nil)
      ResultChecks.check_metadata(metadata)
      @result = result
      @metadata = metadata
      freeze
    end

    # @return [true]
    def success?
      true
    end

    # @return [false]
    def error?
      false
    end

    # The result message as a Hash in wire order, with +task_id+ when given.
    #
    # @param task_id [String, nil] the id of the task this answers
    # @return [Hash{String => Object}]
    def to_message(task_id = nil)
      message = { "status" => "success", "result" => result }
      message["task_id"] = task_id unless task_id.nil?
      message["metadata"] = metadata unless metadata.nil?
      message
    end

    # Pattern matching: +in TaskDaemon::Success[result:]+.
    # @param _keys [Array<Symbol>, nil]
    # @return [Hash{Symbol => Object}]
    def deconstruct_keys(_keys)
      { result: result, metadata: metadata }
    end

    # @param other [Object]
    # @return [Boolean] true when other is a Success with equal result and metadata
    def ==(other)
      other.instance_of?(self.class) && other.result == result && other.metadata == metadata
    end
    alias eql? ==

    # @return [Integer]
    def hash
      [self.class, result, metadata].hash
    end

    # @return [String]
    def inspect
      text = "#<TaskDaemon::Success result=#{result.inspect}"
      text += " metadata=#{metadata.inspect}" unless metadata.nil?
      "#{text}>"
    end
    alias to_s inspect
  end

  # The task was not done: {#message} says why, {#retryable?} whether a later attempt may succeed.
  #
  # This is a result a handler returns, not an exception (exceptions raised by a handler become
  # an Error automatically). The SDK's own exceptions derive from {TaskDaemonError}.
  #
  # @example
  #   TaskDaemon::Error.new("name must be a string")
  #   TaskDaemon::Error.new("upstream returned 503", retryable: true, retry_after: 5,
  #                         error_type: "UpstreamUnavailable")
  #
  # Instances are frozen.
  class Error
    # @return [String] a human-readable message (the wire field +error+)
    attr_reader :message

    # @return [String, nil] a short machine-readable category
    attr_reader :error_type

    # @return [Integer, Float, nil] seconds a retryable error asks the daemon to wait
    attr_reader :retry_after

    # @return [Hash, nil] figures about the run, kept with the result
    attr_reader :metadata

    # @return [String, nil] the stack trace behind the error (set by the SDK for exceptions)
    attr_reader :traceback

    # @param message [String] what went wrong, for humans
    # @param retryable [Boolean] true when a later attempt may succeed (default false)
    # @param error_type [String, nil] a machine-readable category, e.g. "UpstreamUnavailable"
    # @param retry_after [Integer, Float, nil] seconds to wait before the next attempt (>= 0)
    # @param metadata [Hash, nil] figures about the run
    # @param traceback [String, nil] a stack trace; the SDK sets it for uncaught exceptions
    # @raise [TypeError, ArgumentError] for a value the protocol cannot carry
    def initialize(message, retryable: false, error_type: nil, retry_after: nil, metadata: nil, traceback: nil)
      raise TypeError, "message must be a String, got #{message.class}" unless message.is_a?(String)
      unless [true, false].include?(retryable)
        raise TypeError, "retryable must be true or false, got #{retryable.inspect}"
      end

      ResultChecks.check_optional_string("error_type", error_type, allow_empty: false)
      ResultChecks.check_retry_after(retry_after)
      ResultChecks.check_metadata(metadata)
      ResultChecks.check_optional_string("traceback", traceback)
      @message = message
      @retryable = retryable
      @error_type = error_type
      @retry_after = retry_after
      @metadata = metadata
      @traceback = traceback
      freeze
    end

    # The wire name of {#message}.
    # @return [String]
    def error
      message
    end

    # @return [Boolean] true when a later attempt may succeed
    def retryable?
      @retryable
    end

    # @return [Boolean] the same as {#retryable?}
    attr_reader :retryable

    # @return [false]
    def success?
      false
    end

    # @return [true]
    def error?
      true
    end

    # The result message as a Hash in wire order, with +task_id+ when given.
    # +retryable+ is always written, so a reader never has to know its default.
    #
    # @param task_id [String, nil] the id of the task this answers
    # @return [Hash{String => Object}]
    def to_message(task_id = nil)
      message = { "status" => "error", "error" => @message, "retryable" => @retryable }
      message["task_id"] = task_id unless task_id.nil?
      message["error_type"] = error_type unless error_type.nil?
      message["retry_after"] = retry_after unless retry_after.nil?
      message["traceback"] = traceback unless traceback.nil?
      message["metadata"] = metadata unless metadata.nil?
      message
    end

    # Pattern matching: +in TaskDaemon::Error[message:, retryable: true]+.
    # @param _keys [Array<Symbol>, nil]
    # @return [Hash{Symbol => Object}]
    def deconstruct_keys(_keys)
      { message: @message, retryable: @retryable, error_type: error_type, retry_after: retry_after,
        metadata: metadata, traceback: traceback }
    end

    # @param other [Object]
    # @return [Boolean] true when other is an Error with the same fields
    def ==(other)
      other.instance_of?(self.class) && other.deconstruct_keys(nil) == deconstruct_keys(nil)
    end
    alias eql? ==

    # @return [Integer]
    def hash
      [self.class, deconstruct_keys(nil)].hash
    end

    # @return [String]
    def inspect
      text = "#<TaskDaemon::Error message=#{@message.inspect} retryable=#{@retryable}"
      text += " error_type=#{error_type.inspect}" unless error_type.nil?
      text += " retry_after=#{retry_after.inspect}" unless retry_after.nil?
      text += " metadata=#{metadata.inspect}" unless metadata.nil?
      "#{text}>"
    end
    alias to_s inspect
  end
end
