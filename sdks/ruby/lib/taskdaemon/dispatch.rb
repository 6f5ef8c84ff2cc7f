# frozen_string_literal: true

module TaskDaemon
  # Call the user's handler on a task and turn whatever happens into a result.
  #
  # The one code path shared by {TaskDaemon.run} and {Testing.call}: dispatch by task_type,
  # exceptions, and what the handler returned (protocol section 7).
  # @api private
  class Dispatcher
    # The result for a task, and an exception to re-raise once it is sent (or nil).
    Answer = Struct.new(:result, :stop)

    # Exceptions that ask the whole program to stop (+exit+, a signal's default action): the task
    # is answered, then they go on.
    STOPPING_EXCEPTIONS = [SystemExit, SignalException].freeze

    # @param handler [#call, Hash{String, Symbol => #call}] one handler, or one per task_type
    # @raise [TypeError, ArgumentError] for a handler of the wrong shape, at start-up rather
    #   than on the first task
    def initialize(handler)
      @single = nil
      @by_type = {}
      if handler.is_a?(Hash)
        @by_type = checked_mapping(handler)
      elsif handler.respond_to?(:call)
        check_arity(handler, "the handler")
        @single = handler
      else
        raise TypeError, "handler must respond to #call (a Proc, Method or object taking a Task), " \
                         "or be a Hash from task_type to such handlers; got #{handler.class}"
      end
      freeze
    end

    # @return [Array<String>] the task types of a Hash handler, sorted (empty for one handler)
    def task_types
      @by_type.keys.sort
    end

    # Run the handler for task and return its result, whatever the handler does.
    # @param task [Task]
    # @return [Answer]
    def answer(task)
      function = @single || @by_type[task.task_type]
      return Answer.new(unknown_type(task.task_type), nil) if function.nil?

      begin
        returned = function.call(task)
      rescue *STOPPING_EXCEPTIONS => e
        return Answer.new(Dispatcher.error_from_exception(e), e)
      rescue Exception => e # rubocop:disable Lint/RescueException -- every failure of user code becomes an answer
        return Answer.new(Dispatcher.error_from_exception(e), nil)
      end
      Answer.new(result_from_return(returned), nil)
    end

    # The error result for an exception that escaped a handler.
    # @param exception [Exception]
    # @return [Error]
    def self.error_from_exception(exception)
      type = exception.class.ancestors.find { |ancestor| ancestor.is_a?(Class) && ancestor.name }.name
      message = begin
        Wire.utf8_text(exception.message.to_s)
      rescue StandardError
        "" # an exception whose own #message fails is named by its class
      end
      message = type if message.empty?
      Error.new(message, retryable: false, error_type: type, traceback: traceback(exception))
    end

    # Where the SDK's own files are: their frames are left out of tracebacks.
    SDK_DIR = "#{__dir__}/".freeze

    # The exception's full report in Ruby's own format (message, class, backtrace, causes),
    # without the SDK's frames below the handler: they are the same for every task.
    # @param exception [Exception]
    # @return [String]
    def self.traceback(exception)
      below_handler = false
      lines = exception.full_message(highlight: false, order: :top).lines.reject do |line|
        if line.start_with?("\tfrom ")
          below_handler ||= line.start_with?("\tfrom #{SDK_DIR}")
        else
          below_handler = false # the next exception of the cause chain
        end
      end
      Wire.utf8_text(lines.join)
    rescue StandardError
      # full_message calls the exception's own #message, which user code may have broken.
      Wire.utf8_text(([exception.class.name.to_s] + Array(exception.backtrace)).join("\n\tfrom "))
    end

    private

    def checked_mapping(handlers)
      raise ArgumentError, "the handler Hash is empty: map at least one task_type to a handler" if handlers.empty?

      handlers.each_with_object({}) do |(task_type, function), checked|
        unless (task_type.is_a?(String) || task_type.is_a?(Symbol)) && !task_type.empty?
          raise TypeError, "handler Hash keys must be non-empty task_type Strings or Symbols, got #{task_type.inspect}"
        end

        unless function.respond_to?(:call)
          raise TypeError,
                "the handler for task_type #{task_type.to_s.inspect} must respond to #call, got #{function.class}"
        end

        check_arity(function, "the handler for task_type #{task_type.to_s.inspect}")
        checked[task_type.to_s] = function
      end
    end

    # A lambda or method that cannot take exactly one argument would fail on every task: say so
    # now. (Plain procs and blocks take any number of arguments.)
    def check_arity(function, what)
      callable = function.is_a?(Proc) || function.is_a?(Method) ? function : function.method(:call)
      return if callable.is_a?(Proc) && !callable.lambda?

      problem = arity_problem(callable.parameters)
      raise ArgumentError, "#{what} must take one argument (the task); it takes #{problem}" if problem
    rescue NameError
      nil # #call answered by method_missing: nothing to inspect
    end

    # @return [String, nil] how many arguments the parameters take, when it is not one
    def arity_problem(parameters)
      kinds = parameters.map(&:first)
      required = kinds.count(:req)
      return "#{required} required" if required > 1
      return nil if required == 1 || kinds.include?(:opt) || kinds.include?(:rest)

      "none"
    end

    def unknown_type(task_type)
      listed = task_types.map(&:inspect).join(", ")
      Error.new("no handler for task_type #{task_type.inspect}; this handler serves: #{listed}",
                retryable: false, error_type: "UnknownTaskType")
    end

    def result_from_return(returned)
      return returned if returned.is_a?(Success) || returned.is_a?(Error)
      return Success.new(nil) if returned.nil?

      Error.new("the handler returned #{returned.class}; return TaskDaemon::Success, TaskDaemon::Error or nil",
                retryable: false, error_type: "InvalidReturn")
    end
  end
  private_constant :Dispatcher
end
