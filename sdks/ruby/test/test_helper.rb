# frozen_string_literal: true

require "minitest/autorun"
require "json"
require "open3"
require "rbconfig"
require "io/wait"

LIB_DIR = File.expand_path("../lib", __dir__)
$LOAD_PATH.unshift(LIB_DIR) unless $LOAD_PATH.include?(LIB_DIR)
require "taskdaemon"
require_relative "support/protocol_shapes"

# Where the shared protocol files live: sdks/ruby/test -> protocol/.
PROTOCOL_DIR = File.expand_path("../../../protocol", __dir__)
HANDLERS_DIR = File.expand_path("handlers", __dir__)

# Assertions on protocol messages, shared by the test classes.
module ProtocolAssertions
  def assert_valid_result(message)
    problems = ProtocolShapes.result_problems(message)
    assert_empty problems, "the SDK wrote a result that breaks result.schema.json: #{message.inspect}"
  end

  def assert_valid_event(message)
    problems = ProtocolShapes.event_problems(message)
    assert_empty problems, "the SDK wrote an event that breaks event.schema.json: #{message.inspect}"
  end

  def task_line(task_id: "t1", task_type: "echo", task_data: {}, attempt: 0)
    JSON.generate({ "task_id" => task_id, "task_type" => task_type, "task_data" => task_data, "attempt" => attempt })
  end
end

# A handler script started with pipes on stdin, stdout and stderr. Every wait has a deadline;
# a thread drains stderr so the handler never blocks on it. Always stopped (by pid) in #stop.
class HandlerProcess
  # Seconds any single wait may take before the test fails.
  DEFAULT_TIMEOUT = 20

  class Timeout < StandardError; end
  class Exited < StandardError; end

  attr_reader :pid

  # @param script [String] a file in test/handlers, or a path
  def initialize(script, *args, env: {})
    path = File.exist?(script) ? script : File.join(HANDLERS_DIR, script)
    @stdin, @stdout, @stderr, @waiter = Open3.popen3(env, RbConfig.ruby, "-I", LIB_DIR, path, *args)
    @pid = @waiter.pid
    [@stdin, @stdout, @stderr].each(&:binmode)
    @buffer = String.new(encoding: Encoding::BINARY)
    @stderr_text = String.new(encoding: Encoding::BINARY)
    @stderr_lock = Mutex.new
    @stderr_reader = Thread.new { drain_stderr }
  end

  def self.open(script, *args, env: {})
    process = new(script, *args, env: env)
    yield process
  ensure
    process&.stop
  end

  def stderr_text
    @stderr_lock.synchronize { @stderr_text.dup.force_encoding(Encoding::UTF_8).scrub }
  end

  # Write bytes followed by LF, in a thread bounded by the timeout (a big line fills the pipe).
  def send_line(bytes, timeout: DEFAULT_TIMEOUT)
    send_bytes("#{bytes.b}\n".b, timeout: timeout)
  end

  # Write bytes as they are.
  def send_bytes(bytes, timeout: DEFAULT_TIMEOUT)
    writer = Thread.new do
      @stdin.write(bytes.b)
      @stdin.flush
    end
    raise Timeout, "writing a line took more than #{timeout} s; stderr:\n#{stderr_text}" unless writer.join(timeout)

    writer.value
  end

  def send_task(**fields)
    send_line(JSON.generate(
                { "task_id" => "t1", "task_type" => "test", "task_data" => {}, "attempt" => 0 }
                  .merge(fields.transform_keys(&:to_s))
              ))
  end

  # Close our end of the handler's stdout, as a daemon that went away would.
  def close_stdout
    @stdout.close unless @stdout.closed?
  end

  def close_stdin
    @stdin.close unless @stdin.closed?
  end

  # The next stdout line (bytes without LF); raises Timeout or Exited.
  def read_line(timeout: DEFAULT_TIMEOUT)
    deadline = now + timeout
    loop do
      if (newline = @buffer.index("\n"))
        line = @buffer.byteslice(0, newline)
        @buffer = @buffer.byteslice(newline + 1, @buffer.bytesize)
        return line
      end
      remaining = deadline - now
      raise Timeout, "no line from the handler within #{timeout} s; stderr:\n#{stderr_text}" if remaining <= 0
      next unless @stdout.wait_readable(remaining)

      begin
        @buffer << @stdout.read_nonblock(1 << 20)
      rescue IO::WaitReadable
        next
      rescue EOFError
        raise Exited, "the handler closed stdout (buffer #{@buffer.bytesize} bytes); stderr:\n#{stderr_text}"
      end
    end
  end

  # The next stdout line, decoded.
  def read_json(timeout: DEFAULT_TIMEOUT)
    JSON.parse(read_line(timeout: timeout).force_encoding(Encoding::UTF_8), max_nesting: false)
  end

  # Everything left on stdout until EOF (bytes).
  def read_rest(timeout: DEFAULT_TIMEOUT)
    deadline = now + timeout
    loop do
      remaining = deadline - now
      raise Timeout, "stdout stayed open for #{timeout} s; stderr:\n#{stderr_text}" if remaining <= 0
      next unless @stdout.wait_readable(remaining)

      begin
        @buffer << @stdout.read_nonblock(1 << 20)
      rescue IO::WaitReadable
        next
      rescue EOFError
        rest = @buffer
        @buffer = String.new(encoding: Encoding::BINARY)
        return rest
      end
    end
  end

  # Wait until the handler is blocked reading its next line: the SDK's read of 64 KiB
  # (TaskDaemon::Runner::READ_CHUNK), seen in /proc/<pid>/syscall (syscall 0 is read on x86_64
  # and arm64 differs: 63). Polled every 10 ms for at most timeout seconds.
  # @return [Boolean] false when it never happened or /proc cannot tell
  def wait_until_reading(timeout: 5)
    deadline = now + timeout
    while now < deadline
      number, _fd, _buffer, size = File.read("/proc/#{@pid}/syscall").split
      return true if %w[0 63].include?(number) && size == "0x10000"

      sleep 0.01
    end
    false
  rescue SystemCallError
    false
  end

  def signal(name)
    Process.kill(name, @pid)
  end

  # The exit status, waiting at most timeout seconds.
  def wait(timeout: DEFAULT_TIMEOUT)
    raise Timeout, "the handler did not exit within #{timeout} s; stderr:\n#{stderr_text}" unless @waiter.join(timeout)

    @stderr_reader.join(timeout)
    @waiter.value
  end

  # Kill the process if it still runs, reap it, close the pipes.
  def stop
    if @waiter.alive?
      begin
        Process.kill("KILL", @pid)
      rescue Errno::ESRCH
        nil
      end
      @waiter.join(5)
    end
    @stderr_reader.join(5)
    [@stdin, @stdout, @stderr].each { |io| io.close unless io.closed? }
  end

  private

  def now
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  def drain_stderr
    loop do
      chunk = @stderr.readpartial(1 << 16)
      @stderr_lock.synchronize { @stderr_text << chunk }
    end
  rescue IOError # EOFError included: the handler closed stderr
    nil
  end
end
