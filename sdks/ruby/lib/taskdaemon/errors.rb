# frozen_string_literal: true

module TaskDaemon
  # Base class of the exceptions the SDK raises itself.
  #
  # Named so that it cannot be confused with {TaskDaemon::Error}, which is a result a handler
  # returns, not an exception. Bad arguments to the SDK's methods raise Ruby's own
  # +ArgumentError+ or +TypeError+ instead, as the standard library does.
  class TaskDaemonError < StandardError; end

  # Raised when a message cannot be encoded as a protocol line: a value JSON cannot carry
  # (NaN, Infinity, a Time, a circular structure, a string that is not valid UTF-8).
  #
  # The runner never lets it escape: a result that raises it is answered with an
  # +UnserialisableResult+ error instead. {#field} names the message field at fault
  # ("result", "metadata", "error", ...).
  class UnserialisableError < TaskDaemonError
    # @return [String] the message field whose value could not be encoded
    attr_reader :field

    # @param field [String] the message field whose value could not be encoded
    # @param detail [String] what was wrong, with the path to the value
    def initialize(field, detail)
      @field = field
      super(detail)
    end
  end

  # Raised by {TaskDaemon.run} when the reader of the protocol channel (the daemon, reading the
  # handler's stdout) has gone: no answer can be delivered any more, so the handler stops.
  class ChannelClosedError < TaskDaemonError; end
end
