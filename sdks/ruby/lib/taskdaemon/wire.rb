# frozen_string_literal: true

require "json"

module TaskDaemon
  # The wire format: one input line (bytes) to a {Task}, a rejection, or nothing; results and
  # events to protocol lines (compact JSON, UTF-8, LF-terminated).
  #
  # Protocol sections 2 (framing), 3 (the task message), 4 (the result message), 7 and 8.
  # @api private
  module Wire # rubocop:disable Metrics/ModuleLength -- both directions of one format, sharing its options and text helpers
    # A non-blank line that is not a valid task: the error to answer, and the id to echo (or nil).
    Malformed = Struct.new(:error, :task_id)

    # The error_type of a result that could not be encoded.
    UNSERIALISABLE = "UnserialisableResult"

    # Longest excerpt of a parser's message quoted in an InvalidJSON error (the parser quotes the
    # rest of the line, which may be megabytes long).
    MAX_DETAIL = 200

    # The message Hash is one level more than its deepest field.
    GENERATE_OPTIONS = {
      allow_nan: false, max_nesting: JsonCheck::MAX_NESTING + 1, ascii_only: false, script_safe: false
    }.freeze

    # A line holding only these bytes is blank: skipped, no answer (section 2).
    BLANK = /\A[ \t\r]*\z/n

    module_function

    # Parse one line as read from stdin, with or without its line end.
    #
    # @param raw [String] the line's bytes
    # @param on_event [#call, nil] passed to the Task, to receive its events
    # @return [Task, Malformed, nil] nil for a blank line
    def parse_line(raw, on_event: nil)
      line = strip_line_end(raw.b)
      return nil if BLANK.match?(line)

      text = line.force_encoding(Encoding::UTF_8)
      unless text.valid_encoding?
        return malformed("InvalidEncoding",
                         "line is not valid UTF-8: #{StrictJson.encoding_problem(line)}")
      end

      value, problem = StrictJson.decode(text)
      return malformed("InvalidJSON", "line is not valid JSON: #{problem}") if problem

      task_from_value(value, on_event: on_event)
    end

    # Remove a trailing LF, then one CR before it.
    # @param line [String] binary
    # @return [String]
    def strip_line_end(line)
      line = line.byteslice(0, line.bytesize - 1) if line.end_with?("\n")
      line = line.byteslice(0, line.bytesize - 1) if line.end_with?("\r")
      line
    end

    # Check a decoded JSON value against the task message and build the Task.
    # @return [Task, Malformed]
    def task_from_value(value, on_event: nil)
      if everyday_task?(value)
        # The fast path: Task.new checks the fields once more, and that is the only check needed.
        return Task.new(task_id: value["task_id"], task_type: value["task_type"], task_data: value["task_data"],
                        attempt: value["attempt"], on_event: on_event)
      end
      unless value.is_a?(Hash)
        return malformed("InvalidTask",
                         "a task must be a JSON object, got #{Fields.json_type_name(value)}")
      end

      problem = field_problem(value, "task_id") { |id| Fields.task_id_problem(id) }
      return malformed("InvalidTask", problem) if problem

      task_id = value["task_id"]
      attempt = Fields.normalise_attempt(value["attempt"])
      problem = fields_problem(value, attempt)
      return malformed("InvalidTask", problem, task_id) if problem

      Task.new(task_id: task_id, task_type: value["task_type"], task_data: value["task_data"],
               attempt: attempt, tags: value.fetch("tags", {}), dependencies: dependencies_from(value),
               on_event: on_event)
    end

    # Whether value has the shape of a valid task at a glance (the fields' types); the full checks,
    # with their messages, are for everything else.
    # @return [Boolean]
    def everyday_task?(value)
      value.instance_of?(Hash) && everyday_text?(value["task_id"]) && everyday_text?(value["task_type"]) &&
        value["task_data"].instance_of?(Hash) && value["attempt"].instance_of?(Integer) && value["attempt"] >= 0 &&
        !value.key?("tags") && !value.key?("dependencies")
    end

    # @return [Boolean] true for a non-empty String of valid UTF-8
    def everyday_text?(text)
      text.instance_of?(String) && !text.empty? && text.encoding == Encoding::UTF_8 && text.valid_encoding?
    end

    # Encode a result for the task task_id.
    #
    # @param result [Success, Error]
    # @param task_id [String, nil]
    # @return [Array(String, Success | Error)] the line, and the result it carries: result itself,
    #   or the UnserialisableResult error that replaced it
    def result_line(result, task_id)
      [dump_line(result.to_message(task_id)), result]
    rescue UnserialisableError => e
      unserialisable(utf8_text("#{e.field} is not JSON-serialisable: #{e.message}"), task_id)
    rescue StandardError => e
      # Something no check foresaw (a result subclass that breaks to_message): still an answer.
      unserialisable("result is not JSON-serialisable: #{e.class}", task_id)
    end

    # @return [Array(String, Error)] the UnserialisableResult error's line, and the error
    def unserialisable(message, task_id)
      replacement = Error.new(message, retryable: false, error_type: UNSERIALISABLE)
      [dump_line(replacement.to_message(task_id)), replacement]
    end

    # Encode an event. Text that is not valid UTF-8 is repaired, not fatal: an event is a side
    # channel, and losing a character of a log message beats failing the task.
    # @param event [Hash{String => Object}]
    # @return [String]
    def event_line(event)
      dump_line(event.transform_values { |value| value.is_a?(String) ? utf8_text(value) : value })
    end

    # Encode one message (a Hash of field => value) as a protocol line.
    # @param message [Hash{String => Object}]
    # @return [String] compact JSON, UTF-8, ending in LF
    # @raise [UnserialisableError] when a field holds something JSON cannot carry
    def dump_line(message)
      # One fast look at the whole message; only a message that fails it is walked field by field.
      message.each_pair { |field, value| JsonCheck.check(value, field) } unless JsonCheck.plain?(message, 0)
      begin
        generator.generate(message) << "\n"
      rescue JSON::JSONError, EncodingError, SystemStackError => e
        # The walk above catches what it knows; whatever else the encoder refuses is named here.
        raise UnserialisableError.new(first_unencodable_field(message), "#{e.class}: #{shorten(e.message)}")
      end
    end

    # This thread's JSON generator, made once: JSON.generate(message, options) builds and configures
    # a new one for every line, which cost more than writing the line. Its depth is reset each time,
    # since a generation that raised leaves it where it stopped.
    # @return [JSON::State]
    def generator
      state = (Thread.current[:taskdaemon_json_generator] ||= JSON::State.new(GENERATE_OPTIONS))
      state.depth = 0
      state
    end

    # Text made valid UTF-8: text in another encoding is converted, bytes that are not text
    # become U+FFFD.
    # @param text [String]
    # @return [String]
    def utf8_text(text)
      return text if text.encoding == Encoding::UTF_8 && text.valid_encoding?
      if text.valid_encoding? && ![Encoding::UTF_8, Encoding::BINARY].include?(text.encoding)
        return text.encode(Encoding::UTF_8, invalid: :replace, undef: :replace)
      end

      text.dup.force_encoding(Encoding::UTF_8).scrub
    end

    # @return [String] a message excerpt no longer than MAX_DETAIL characters
    def shorten(text)
      text = utf8_text(text)
      text.length > MAX_DETAIL ? "#{text[0, MAX_DETAIL]}..." : text
    end

    # @return [Malformed]
    def malformed(error_type, message, task_id = nil)
      Malformed.new(Error.new(message, retryable: false, error_type: error_type), task_id)
    end

    # @return [String, nil] the problem with value[name], or nil
    def field_problem(value, name)
      return "#{name} is missing" unless value.key?(name)

      problem = yield(value[name])
      problem&.message
    end

    # @return [String, nil] what is wrong with value's tags, when it has some
    def tags_problem(value)
      value.key?("tags") ? Fields.tags_problem(value["tags"])&.message : nil
    end

    # @return [String, nil] what is wrong with the fields of value after its task_id
    def fields_problem(value, attempt)
      field_problem(value, "task_type") { |type| Fields.task_type_problem(type) } ||
        field_problem(value, "task_data") { |data| Fields.task_data_problem(data) } ||
        tags_problem(value) ||
        field_problem(value, "attempt") { Fields.attempt_problem(attempt) } ||
        dependencies_problem(value)
    end

    # @return [String, nil] what is wrong with value's dependencies, when it has some
    def dependencies_problem(value)
      value.key?("dependencies") ? Fields.dependencies_problem(value["dependencies"])&.message : nil
    end

    # @return [Hash{String => Dependency}] the checked dependencies of a task line, frozen ({} when none)
    def dependencies_from(value)
      value.fetch("dependencies", {}).transform_values do |entry|
        Dependency.new(task_id: entry["task_id"], task_type: entry["task_type"], result: entry["result"])
      end.freeze
    end

    # @return [String] the first field of message that the encoder refuses on its own
    def first_unencodable_field(message)
      message.each_pair do |field, value|
        JSON.generate({ field => value }, GENERATE_OPTIONS)
      rescue JSON::JSONError, EncodingError, SystemStackError
        return field
      end
      "result"
    end
  end
  private_constant :Wire
end
