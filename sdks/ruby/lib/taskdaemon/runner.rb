# frozen_string_literal: true

module TaskDaemon
  # The handler loop: read task lines from stdin, answer each with one result line on the
  # protocol channel, one at a time and in order, until EOF or a stop signal (protocol
  # sections 2, 7 and 9).
  # @api private
  class Runner
    # Bytes asked of stdin per read (a pipe gives at most what it holds).
    READ_CHUNK = 1 << 16

    # Signals that stop the loop: at once when idle, after the task in hand otherwise.
    STOP_SIGNALS = %w[TERM INT].freeze

    # Raised in the loop's thread by a stop signal that arrives while it waits for input.
    # An Exception, not a StandardError, so that no rescue on the way can swallow it.
    class StopReading < Exception; end # rubocop:disable Lint/InheritException

    # @param dispatcher [Dispatcher]
    # @param input [IO] where task lines come from (STDIN is guarded, see {Channel.guarded})
    # @param output [IO] the protocol channel (STDOUT is guarded)
    def initialize(dispatcher, input:, output:)
      @dispatcher = dispatcher
      @input = input
      @output = output
      @stop_requested = false
      @reading = false
    end

    # Serve tasks until EOF on input or a stop signal.
    # @return [nil]
    def run
      @thread = Thread.current
      Channel.guarded(@input, @output) do |reader, writer|
        with_stop_signals do
          each_line(reader) do |line|
            handle(line, writer)
            break if @stop_requested
          end
        rescue StopReading
          nil # a stop signal while idle: leave at once
        end
      end
      nil
    end

    private

    # Answer one line. Stopping exceptions (exit, signals) raised by the handler go on after
    # their task is answered.
    def handle(line, writer)
      sink = Channel::EventSink.new(writer)
      parsed = Wire.parse_line(line, on_event: sink)
      return if parsed.nil?

      if parsed.is_a?(Wire::Malformed)
        writer.write(Wire.result_line(parsed.error, parsed.task_id).first)
        return
      end

      answer = @dispatcher.answer(parsed)
      result_line = Wire.result_line(answer.result, parsed.task_id).first
      sink.close
      writer.write(result_line)
      raise answer.stop unless answer.stop.nil?
    end

    # Yield each line of input (bytes, without its LF), however long, as soon as it is complete.
    # A last line without an LF is still a line.
    def each_line(reader)
      buffer = String.new(encoding: Encoding::BINARY)
      scan_from = 0
      loop do
        while (newline = buffer.index("\n", scan_from))
          line = buffer.byteslice(0, newline)
          buffer = buffer.byteslice(newline + 1, buffer.bytesize - newline - 1)
          scan_from = 0
          yield line
        end
        scan_from = buffer.bytesize # the next search starts where new bytes begin
        chunk = read_chunk(reader)
        break if chunk.nil?

        buffer << chunk
      end
      yield buffer unless buffer.empty?
    end

    # The next bytes of input, or nil at EOF. Only while it waits here may a stop signal
    # interrupt the loop (never while a result is being written).
    def read_chunk(reader)
      @reading = true
      raise StopReading if @stop_requested

      reader.readpartial(READ_CHUNK).force_encoding(Encoding::BINARY)
    rescue EOFError
      nil
    ensure
      @reading = false
    end

    def with_stop_signals
      handler = proc do
        @stop_requested = true
        @thread.raise(StopReading) if @reading
      end
      previous = STOP_SIGNALS.to_h { |signal| [signal, Signal.trap(signal, handler)] }
      begin
        yield
      ensure
        previous.each { |signal, action| Signal.trap(signal, action || "DEFAULT") }
      end
    end
  end
  private_constant :Runner
end
