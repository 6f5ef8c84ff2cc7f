# frozen_string_literal: true

module TaskDaemon
  # One unit of work, as the daemon sent it. Frozen: a handler reads it and may emit events
  # about it with {#log} and {#progress}.
  #
  # {#attempt} is zero-based: the first run is 0, the first retry 1. {#tags} are the submitter's
  # labels for the task (String to String; empty when it has none). {#dependencies} are the tasks
  # this one waited for, by name (a workflow step's name, else the dependency's task id), each a
  # {Dependency} holding its result; a frozen Hash, empty when the task has none.
  #
  # {#task_data} holds what JSON decodes to: String keys, and Hash, Array, String, Integer,
  # Float, true, false and nil values. The Task is frozen; its task_data Hash is the handler's
  # to use as it likes.
  #
  # A Task built by hand (in a unit test) without +on_event+ checks its events, then drops them;
  # use {Testing.call} to run a handler and see its events.
  #
  # @example
  #   TaskDaemon.run do |task|
  #     task.log("starting", level: "debug")
  #     task.progress(0.5, "halfway")
  #     TaskDaemon::Success.new({ "name" => task.task_data.fetch("name", "World") })
  #   end
  class Task
    # Log levels of a log event, lowest first (protocol section 5).
    LOG_LEVELS = %w[debug info warning error].freeze

    # @return [String] the task's opaque identifier
    attr_reader :task_id

    # @return [String] the kind of work
    attr_reader :task_type

    # @return [Hash{String => Object}] the submitter's input
    attr_reader :task_data

    # @return [Integer] zero-based attempt number
    attr_reader :attempt

    # @return [Hash{String => String}] the submitter's labels, empty when none
    attr_reader :tags

    # @return [Hash{String => Dependency}] the tasks this one waited for, by name; empty when none
    attr_reader :dependencies

    # The dependencies of a task that has none.
    NO_DEPENDENCIES = {}.freeze
    private_constant :NO_DEPENDENCIES

    # @param task_id [String] non-empty
    # @param task_type [String] non-empty
    # @param task_data [Hash] the submitter's input
    # @param attempt [Integer] zero-based attempt number, >= 0
    # @param tags [Hash{String => String}] the submitter's labels
    # @param dependencies [Hash{String => Dependency}] the tasks this one waited for, by name
    # @param on_event [#call, nil] called with each event message (a Hash) the task emits;
    #   the runner passes its protocol writer here
    # @raise [TypeError, ArgumentError] for a field the protocol does not allow
    def initialize(task_id:, task_type:, task_data: {}, attempt: 0, tags: {}, dependencies: NO_DEPENDENCIES,
                   on_event: nil)
      Fields.raise_if(Fields.task_id_problem(task_id))
      Fields.raise_if(Fields.task_type_problem(task_type))
      Fields.raise_if(Fields.task_data_problem(task_data))
      Fields.raise_if(Fields.attempt_problem(attempt))
      Fields.raise_if(Fields.tags_problem(tags))
      Fields.raise_if(Fields.task_dependencies_problem(dependencies)) unless dependencies.equal?(NO_DEPENDENCIES)
      if !on_event.nil? && !on_event.respond_to?(:call)
        raise TypeError, "on_event must respond to #call, got #{on_event.class}"
      end

      @task_id = task_id
      @task_type = task_type
      @task_data = task_data
      @attempt = attempt
      @tags = tags.frozen? ? tags : tags.dup.freeze
      @dependencies = dependencies.frozen? ? dependencies : dependencies.dup.freeze
      @on_event = on_event
      freeze
    end

    # Send a log line about this task to the daemon, at once (before the result).
    #
    # @param message [String] the log message
    # @param level [String, Symbol] one of "debug", "info", "warning", "error" (keyword, as in
    #   +task.log("retrying", level: :warning)+)
    # @return [nil]
    # @raise [TypeError] if message is not a String
    # @raise [ArgumentError] if level is not one of {LOG_LEVELS}
    def log(message, level: "info")
      raise TypeError, "message must be a String, got #{message.class}" unless message.is_a?(String)

      level_name = level.is_a?(Symbol) ? level.to_s : level
      unless LOG_LEVELS.include?(level_name)
        raise ArgumentError, "level must be one of #{LOG_LEVELS.join(', ')}; got #{level.inspect}"
      end

      emit({ "event" => "log", "task_id" => task_id, "level" => level_name, "message" => message })
    end

    # Tell the daemon how far this task has got, at once (before the result).
    #
    # @param fraction [Numeric] from 0 (nothing done) to 1 (all done)
    # @param message [String, nil] an optional word on what is being done
    # @return [nil]
    # @raise [TypeError] if fraction is not a real number or message not a String
    # @raise [ArgumentError] if fraction is outside 0..1 (or not finite)
    def progress(fraction, message = nil)
      unless fraction.is_a?(Numeric) && fraction.real?
        raise TypeError, "fraction must be a number from 0 to 1, got #{fraction.class}"
      end

      # Rational and BigDecimal would be written as strings: the wire wants a JSON number.
      fraction = fraction.to_f unless fraction.is_a?(Integer)
      unless fraction.finite? && fraction >= 0 && fraction <= 1
        raise ArgumentError, "fraction must be a number from 0 to 1, got #{fraction.inspect}"
      end
      if !message.nil? && !message.is_a?(String)
        raise TypeError, "message must be a String or nil, got #{message.class}"
      end

      event = { "event" => "progress", "task_id" => task_id, "progress" => fraction }
      event["message"] = message unless message.nil?
      emit(event)
    end

    # @return [Hash{Symbol => Object}] the protocol fields
    def to_h
      { task_id: task_id, task_type: task_type, task_data: task_data, attempt: attempt, tags: tags,
        dependencies: dependencies }
    end

    # Pattern matching: +in { task_type: "resize", task_data: { "url" => String } }+.
    # @param _keys [Array<Symbol>, nil]
    # @return [Hash{Symbol => Object}]
    def deconstruct_keys(_keys)
      to_h
    end

    # @param other [Object]
    # @return [Boolean] true when other is a Task with the same fields
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
      "#<TaskDaemon::Task task_id=#{task_id.inspect} task_type=#{task_type.inspect} " \
        "attempt=#{attempt} task_data=#{task_data.inspect}>"
    end

    private

    def emit(event)
      @on_event&.call(event)
      nil
    end
  end
end
