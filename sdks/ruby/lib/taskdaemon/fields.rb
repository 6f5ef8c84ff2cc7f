# frozen_string_literal: true

module TaskDaemon
  # The checks on a task's four fields, shared by {Task.new} and the line parser, so a task built
  # by hand and a task read from the wire obey the same rules (protocol section 3).
  #
  # Each check returns nil when the value is fine, or a {Problem}: the exception class a
  # constructor raises and a message naming the field ("task_data must be an object, got array").
  # @api private
  module Fields
    # What is wrong with a field.
    Problem = Struct.new(:kind, :message)

    module_function

    # The JSON name of a decoded value's type ("array", not "Array"), for error messages.
    # @param value [Object]
    # @return [String]
    def json_type_name(value)
      case value
      when nil then "null"
      when true, false then "boolean"
      when Integer then "integer"
      when Float then "number"
      when String then "string"
      when Array then "array"
      when Hash then "object"
      else value.class.to_s
      end
    end

    # @return [Problem, nil] what is wrong with a task_id (a non-empty String of valid UTF-8)
    def task_id_problem(value)
      text_problem("task_id", value)
    end

    # @return [Problem, nil] what is wrong with a task_type (a non-empty String of valid UTF-8)
    def task_type_problem(value)
      text_problem("task_type", value)
    end

    # @return [Problem, nil] what is wrong with task_data (a Hash)
    def task_data_problem(value)
      return nil if value.is_a?(Hash)

      Problem.new(TypeError, "task_data must be an object, got #{json_type_name(value)}")
    end

    # @return [Problem, nil] what is wrong with an attempt (an Integer >= 0; booleans are not)
    def attempt_problem(value)
      unless value.is_a?(Integer)
        shown = value.is_a?(Float) ? " #{value.inspect}" : ""
        return Problem.new(TypeError, "attempt must be an integer, got #{json_type_name(value)}#{shown}")
      end
      return nil if value >= 0

      Problem.new(ArgumentError, "attempt must be >= 0, got #{value}")
    end

    # @return [Problem, nil] what is wrong with tags (a Hash whose values are Strings)
    def tags_problem(value)
      return Problem.new(TypeError, "tags must be an object, got #{json_type_name(value)}") unless value.is_a?(Hash)

      key, tag = value.find { |_, v| !v.is_a?(String) }
      return nil if key.nil?

      Problem.new(TypeError, "tags[#{key.inspect}] must be a string, got #{json_type_name(tag)}")
    end

    # The members every dependency of a task line must have (protocol section 3.1).
    DEPENDENCY_MEMBERS = %w[task_id task_type result].freeze

    # @return [Problem, nil] what is wrong with a task line's dependencies (a Hash of name to a
    #   Hash with task_id, task_type and result)
    def dependencies_problem(value)
      unless value.is_a?(Hash)
        return Problem.new(TypeError, "dependencies must be an object, got #{json_type_name(value)}")
      end

      value.each do |name, entry|
        problem = dependency_problem("dependencies[#{name.inspect}]", entry)
        return problem unless problem.nil?
      end
      nil
    end

    # @return [Problem, nil] what is wrong with one dependency of a task line
    def dependency_problem(where, entry)
      return Problem.new(TypeError, "#{where} must be an object, got #{json_type_name(entry)}") unless entry.is_a?(Hash)

      missing = DEPENDENCY_MEMBERS.find { |member| !entry.key?(member) }
      return Problem.new(TypeError, "#{where}.#{missing} is missing") unless missing.nil?

      text_problem("#{where}.task_id", entry["task_id"]) || text_problem("#{where}.task_type", entry["task_type"])
    end

    # @return [Problem, nil] what is wrong with the dependencies given to {Task.new} (a Hash of
    #   String to {Dependency})
    def task_dependencies_problem(value)
      unless value.is_a?(Hash)
        return Problem.new(TypeError, "dependencies must be a Hash of name to Dependency, got #{value.class}")
      end

      name, dependency = value.find { |key, entry| !key.is_a?(String) || !entry.is_a?(Dependency) }
      return nil if name.nil? && dependency.nil?
      return Problem.new(TypeError, "dependencies names must be Strings, got #{name.class}") unless name.is_a?(String)

      Problem.new(TypeError, "dependencies[#{name.inspect}] must be a Dependency, got #{dependency.class}")
    end

    # JSON Schema counts 1.0 as an integer, and the protocol lets a handler accept it (section 3).
    # @return [Object] value as an Integer when it is a whole Float, else value unchanged
    def normalise_attempt(value)
      value.is_a?(Float) && value.finite? && value == value.floor ? value.to_i : value
    end

    # @raise [TypeError, ArgumentError] when problem is not nil
    def raise_if(problem)
      raise problem.kind, problem.message unless problem.nil?
    end

    # @return [Problem, nil]
    def text_problem(name, value)
      return Problem.new(TypeError, "#{name} must be a string, got #{json_type_name(value)}") unless value.is_a?(String)
      return Problem.new(ArgumentError, "#{name} must not be empty") if value.empty?
      return nil if value.valid_encoding? && (value.ascii_only? || value.encoding == Encoding::UTF_8)

      Problem.new(ArgumentError, "#{name} must be valid UTF-8 text")
    end
  end
  private_constant :Fields
end
