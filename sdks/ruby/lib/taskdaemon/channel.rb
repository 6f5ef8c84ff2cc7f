# frozen_string_literal: true

module TaskDaemon
  # The protocol channel: where results and events are written, and how it is kept for the SDK
  # alone while the loop runs (protocol section 6).
  # @api private
  module Channel
    # Writes whole lines, one writer at a time (events may come from a handler's own threads),
    # flushed at once.
    class Writer
      # @param io [IO] the protocol channel
      def initialize(io)
        @io = io
        @lock = Mutex.new
      end

      # @param line [String] one encoded line, LF included
      def write(line)
        @lock.synchronize { write_unlocked(line) }
      end

      # Run the block holding the write lock.
      def synchronize(&block)
        @lock.synchronize(&block)
      end

      # Write when the caller already holds the lock.
      # @raise [ChannelClosedError] when the reader has gone
      def write_unlocked(line)
        @io.write(line)
        @io.flush
      rescue Errno::EPIPE, IOError => e
        raise ChannelClosedError, "the protocol channel (stdout) was closed by its reader (#{e.class})"
      end
    end

    # Where one task's events go: the channel while the task is in hand, nowhere once its result
    # is on its way (an event must never follow its task's result).
    class EventSink
      # @param writer [Writer]
      def initialize(writer)
        @writer = writer
        @open = true
      end

      # @param event [Hash{String => Object}]
      def call(event)
        line = Wire.event_line(event)
        @writer.synchronize do
          next @writer.write_unlocked(line) if @open

          warn("taskdaemon: dropped a #{event['event']} event for task #{event['task_id']}: " \
               "its result has already been sent")
        end
      end

      # Stop accepting events: the result is about to be written.
      def close
        @writer.synchronize { @open = false }
      end
    end

    module_function

    # Yield a reader of the real stdin and a writer of the real stdout, hidden from all else.
    #
    # Results go to a private copy of fd 1, and fd 1 points at stderr: ordinary output ($stdout,
    # puts, print, STDOUT, child processes) can never be taken for a result. Tasks come from a
    # private copy of fd 0, and fd 0 reads /dev/null: a child process that reads its stdin cannot
    # swallow a task. Both copies are close-on-exec, as every descriptor Ruby opens, so children
    # never see them. Everything is restored afterwards.
    #
    # @param input [IO] STDIN (guarded) or another IO (used as is)
    # @param output [IO] STDOUT (guarded) or another IO (used as is)
    # @yieldparam reader [IO] binary
    # @yieldparam writer [Writer]
    def guarded(input, output, &block)
      # rubocop:disable Style/GlobalStdStream -- the process's own descriptors 0, 1 and 2
      private_copy(input, STDIN, -> { File.open(File::NULL) { |null| STDIN.reopen(null) } }) do |reader|
        private_copy(output, STDOUT, -> { STDOUT.reopen(STDERR) }) do |channel|
          block.call(reader, Writer.new(channel))
        end
      end
      # rubocop:enable Style/GlobalStdStream
    end

    # Yield a private copy of io when it is the standard stream, with the stream redirected
    # meanwhile; yield io itself otherwise.
    def private_copy(io, standard, redirect)
      io.binmode
      return yield(io) unless io.equal?(standard)

      io.flush
      was_sync = io.sync
      copy = io.dup
      copy.binmode
      copy.sync = true
      redirect.call
      io.sync = true # what a handler prints reaches stderr in order with everything else
      begin
        yield copy
      ensure
        io.flush
        io.reopen(copy)
        io.sync = was_sync
        copy.close
      end
    end
    private_class_method :private_copy
  end
  private_constant :Channel
end
