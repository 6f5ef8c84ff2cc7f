# frozen_string_literal: true

module TaskDaemon
  # Walks a value and refuses what JSON cannot carry, naming the path to it. JSON's own encoder
  # would write any object as its to_s and loop on circular structures; the protocol wants
  # exactly JSON's types, finite numbers and valid text.
  module JsonCheck
    # Deepest nesting of arrays and objects accepted in a value (room to echo any task).
    MAX_NESTING = 2000

    module_function

    # @param value [Object]
    # @param field [String] the message field value belongs to
    # @raise [UnserialisableError] naming the path to the value at fault, e.g. result["items"][3]
    def check(value, field)
      Walk.new(field).check(value) unless plain?(value, 0)
    end

    # The fast path, taken for every result: true when value is made only of nil, true, false,
    # Integers, finite Floats, valid UTF-8 Strings, Arrays and Hashes with String keys, no deeper
    # than MAX_NESTING (so a circular structure is never plain). Anything else takes the Walk,
    # which names the path to what is wrong (or accepts Symbols and other encodings).
    # @param value [Object]
    # @param depth [Integer]
    # @return [Boolean]
    def plain?(value, depth)
      case value
      when String then value.encoding == Encoding::UTF_8 && value.valid_encoding?
      when Integer, nil, true, false then true
      when Hash then depth < MAX_NESTING && plain_pairs?(value, depth + 1)
      when Array then depth < MAX_NESTING && plain_items?(value, depth + 1)
      when Float then value.finite?
      else false
      end
    end

    # @param hash [Hash]
    # @param depth [Integer] the depth of the hash's values
    # @return [Boolean] true when every key is UTF-8 text and every value plain
    def plain_pairs?(hash, depth)
      hash.each_pair do |key, item|
        return false unless key.instance_of?(String) && key.encoding == Encoding::UTF_8 &&
                            key.valid_encoding? && plain?(item, depth)
      end
      true
    end

    # @param array [Array]
    # @param depth [Integer] the depth of the array's items
    # @return [Boolean] true when every item is plain
    def plain_items?(array, depth)
      array.each { |item| return false unless plain?(item, depth) }
      true
    end

    # One walk over one field's value. The path is a stack of keys and indexes, turned into
    # text only when something is refused.
    class Walk
      def initialize(field)
        @field = field
        @path = []
        @open = {}.compare_by_identity # containers on the current path, to spot cycles
      end

      def check(value)
        case value
        when nil, true, false, Integer then nil
        when Float then check_float(value)
        when String then check_text(value)
        when Symbol then check_text(value.to_s)
        when Array, Hash then check_container(value)
        else refuse("is #{/\A[AEIOU]/.match?(value.class.to_s) ? 'an' : 'a'} #{value.class}, which JSON cannot carry")
        end
      end

      private

      def check_float(value)
        return if value.finite?

        name = if value.nan?
                 "NaN"
               elsif value.positive?
                 "Infinity"
               else
                 "-Infinity"
               end
        refuse("is #{name}, which JSON cannot carry")
      end

      def check_text(text, what = "")
        valid = if text.encoding == Encoding::BINARY
                  text.dup.force_encoding(Encoding::UTF_8).valid_encoding?
                else
                  text.valid_encoding?
                end
        return if valid

        encoding = text.encoding == Encoding::BINARY ? Encoding::UTF_8 : text.encoding
        refuse("#{what}is a string that is not valid #{encoding}")
      end

      def check_container(value)
        refuse("is nested deeper than #{MAX_NESTING} levels") if @path.size >= MAX_NESTING
        refuse("contains itself (a circular structure)") if @open.key?(value)

        @open[value] = true
        value.is_a?(Array) ? check_array(value) : check_hash(value)
        @open.delete(value)
      end

      # Plain while loops: each level of nesting costs Ruby stack only, no C frames.
      def check_array(array)
        index = 0
        while index < array.size
          @path.push(index)
          check(array[index])
          @path.pop
          index += 1
        end
      end

      def check_hash(hash)
        keys = hash.keys
        index = 0
        while index < keys.size
          key = keys[index]
          unless key.is_a?(String) || key.is_a?(Symbol)
            refuse("has the key #{key.inspect} (#{key.class}); JSON object keys are strings or symbols")
          end
          check_text(key.to_s, "has a key that ")
          @path.push(key)
          check(hash[key])
          @path.pop
          index += 1
        end
      end

      def refuse(detail)
        where = @field + @path.map { |step| "[#{step.inspect}]" }.join
        raise UnserialisableError.new(@field, "#{where} #{detail}")
      end
    end
  end
  private_constant :JsonCheck
end
