# frozen_string_literal: true

module TaskDaemon
  # A task this task waited for, and the result it completed with (protocol section 3.1): one
  # value of {Task#dependencies}. Frozen.
  #
  # {#result} is the +result+ of the dependency's success, any JSON value (nil when its handler
  # returned nothing).
  #
  # @example A step reading its parent's result
  #   TaskDaemon.run do |task|
  #     rows = task.dependencies.fetch("load").result.fetch("rows")
  #     TaskDaemon::Success.new({ "summary" => "#{rows} rows loaded" })
  #   end
  class Dependency
    # @return [String] the dependency's task id
    attr_reader :task_id

    # @return [String] the dependency's task type
    attr_reader :task_type

    # @return [Object] the dependency's result value
    attr_reader :result

    # @param task_id [String] non-empty
    # @param task_type [String] non-empty
    # @param result [Object] any JSON value
    # @raise [TypeError, ArgumentError] for a field the protocol does not allow
    def initialize(task_id:, task_type:, result: nil)
      Fields.raise_if(Fields.task_id_problem(task_id))
      Fields.raise_if(Fields.task_type_problem(task_type))
      @task_id = task_id
      @task_type = task_type
      @result = result
      freeze
    end

    # @return [Hash{Symbol => Object}] the dependency's fields
    def to_h
      { task_id: task_id, task_type: task_type, result: result }
    end

    # Pattern matching: +in { task_type: "fetch", result: { "rows" => Integer } }+.
    # @param _keys [Array<Symbol>, nil]
    # @return [Hash{Symbol => Object}]
    def deconstruct_keys(_keys)
      to_h
    end

    # @param other [Object]
    # @return [Boolean] true when other is a Dependency with the same fields
    def ==(other)
      other.instance_of?(self.class) && other.to_h == to_h
    end
    alias eql? ==

    # @return [Integer]
    def hash
      [self.class, to_h].hash
    end

    # @return [String]
    def inspect
      "#<TaskDaemon::Dependency task_id=#{task_id.inspect} task_type=#{task_type.inspect} result=#{result.inspect}>"
    end
  end
end
