# frozen_string_literal: true

require "json"
require "stringio"

module TaskDaemon
  # Test handlers without a daemon.
  #
  # {Testing.call} runs a handler in-process on one task, exactly as {TaskDaemon.run} would, and
  # returns an {Outcome}: the result, the wire message, the events and the printed output.
  #
  # @example A minitest test
  #   outcome = TaskDaemon::Testing.call(method(:handle), { "name" => "Ada" })
  #   assert outcome.success?
  #   assert_equal({ "message" => "Hello, Ada!" }, outcome.result.result)
  module Testing
    # What a handler did with one task. Frozen.
    class Outcome
      # @return [Success, Error] the answer sent: an UnserialisableResult {Error} when the
      #   handler's own result could not be encoded
      attr_reader :result

      # @return [Hash{String => Object}] the result message exactly as {TaskDaemon.run} writes
      #   it, decoded (String keys)
      attr_reader :message

      # @return [Array<Hash{String => Object}>] the log and progress events, in order, decoded
      attr_reader :events

      # @return [String] what the handler printed to $stdout during the call
      attr_reader :output

      # @param result [Success, Error]
      # @param message [Hash{String => Object}]
      # @param events [Array<Hash{String => Object}>]
      # @param output [String]
      def initialize(result:, message:, events:, output:)
        @result = result
        @message = message.freeze
        @events = events.freeze
        @output = output.freeze
        freeze
      end

      # @return [Boolean] true when the answer is a success
      def success?
        result.success?
      end

      # @return [Boolean] true when the answer is an error
      def error?
        result.error?
      end
    end

    # Decoding options for what the SDK itself wrote (any depth it wrote is fine to read).
    DECODE_OPTIONS = { max_nesting: false, allow_nan: false, create_additions: false }.freeze
    private_constant :DECODE_OPTIONS

    module_function

    # Run handler on one task built from the arguments; return what it answered.
    #
    # The same code as {TaskDaemon.run} dispatches the task (a Hash handler by task_type), turns
    # exceptions and odd return values into errors and encodes the result, so the Outcome is
    # what a daemon would receive. task_data goes through JSON first, as it would on the wire:
    # the handler sees String keys even when the test wrote +{ name: "Ada" }+.
    #
    # Differences from {TaskDaemon.run}: what the handler prints to $stdout (puts, print,
    # $stdout.write) is captured into {Outcome#output} (output written straight to file
    # descriptor 1, by STDOUT or a child process, is not); and a handler that calls +exit+ or
    # raises SignalException gets its error Outcome instead of stopping the caller.
    #
    # @param handler [#call, Hash{String, Symbol => #call}] as for {TaskDaemon.run}
    # @param task_data [Hash] the task's input
    # @param task_type [String]
    # @param task_id [String]
    # @param attempt [Integer] zero-based
    # @param tags [Hash{String => String}] the submitter's labels
    # @param dependencies [Hash{String => Dependency}] the tasks this one waited for, by name:
    #   +dependencies: { "load" => TaskDaemon::Dependency.new(task_id: "t1", task_type: "fetch", result: 42) }+
    # @return [Outcome]
    # @raise [TypeError, ArgumentError] for an argument a task cannot carry
    def call(handler, task_data = {}, task_type: "test", task_id: "test-task", attempt: 0, tags: {},
             dependencies: {})
      dispatcher = Dispatcher.new(handler)
      events = []
      sink = ->(event) { events << JSON.parse(Wire.event_line(event), DECODE_OPTIONS) }
      task = Task.new(task_id: task_id, task_type: task_type, task_data: as_on_the_wire(task_data),
                      attempt: attempt, tags: tags, dependencies: dependencies, on_event: sink)
      answer, output = capture_stdout { dispatcher.answer(task) }
      line, result = Wire.result_line(answer.result, task.task_id)
      Outcome.new(result: result, message: JSON.parse(line, DECODE_OPTIONS), events: events, output: output)
    end

    # @return [Hash] task_data as a handler would receive it from the wire
    def as_on_the_wire(task_data)
      raise TypeError, "task_data must be a Hash, got #{task_data.class}" unless task_data.is_a?(Hash)

      JSON.parse(Wire.dump_line({ "task_data" => task_data }), DECODE_OPTIONS).fetch("task_data")
    rescue UnserialisableError => e
      raise ArgumentError, "task_data cannot be sent as JSON: #{e.message}"
    end

    # @return [Array(Object, String)] the block's value and what it wrote to $stdout
    def capture_stdout
      captured = StringIO.new
      previous = $stdout
      $stdout = captured
      begin
        value = yield
      ensure
        $stdout = previous
      end
      [value, captured.string]
    end
    private_class_method :as_on_the_wire, :capture_stdout
  end
end
