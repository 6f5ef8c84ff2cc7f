# frozen_string_literal: true

require "json"
require "strscan"

module TaskDaemon
  # Decoding a task line exactly as RFC 8259 says (protocol section 2): Ruby's parser is lenient
  # in two ways that the other SDKs are not, so what it accepts is checked once more.
  # @api private
  module StrictJson
    # Deepest nesting of arrays and objects accepted in a task line.
    PARSE_MAX_NESTING = 1000

    PARSE_OPTIONS = {
      allow_nan: false, max_nesting: PARSE_MAX_NESTING, create_additions: false
    }.freeze

    # The longest prefix of valid UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
    VALID_UTF8_PREFIX = /\A(?:[\x00-\x7F]|[\xC2-\xDF][\x80-\xBF]|\xE0[\xA0-\xBF][\x80-\xBF]|
      [\xE1-\xEC\xEE\xEF][\x80-\xBF]{2}|\xED[\x80-\x9F][\x80-\xBF]|\xF0[\x90-\xBF][\x80-\xBF]{2}|
      [\xF1-\xF3][\x80-\xBF]{3}|\xF4[\x80-\x8F][\x80-\xBF]{2})*+/nx

    # Ruby's parser accepts two things RFC 8259 does not: comments and unknown escapes ("\x").
    # A backslash can only occur inside a string (elsewhere the parser fails), so an escape is
    # invalid when an odd run of backslashes is followed by anything but a JSON escape letter.
    INVALID_ESCAPE = %r{(?<!\\)(?:\\\\)*+\\[^"\\/bfnrtu]}
    # A \u escape of a surrogate code unit: only then can a decoded string hold a lone surrogate.
    SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/
    # A complete JSON string, unrolled so the regexp engine never backtracks.
    JSON_STRING = /"[^"\\]*+(?:\\.[^"\\]*+)*+"/m

    module_function

    # @param text [String] valid UTF-8
    # @return [Array(Object, nil), Array(nil, String)] the decoded value, or what is wrong
    def decode(text)
      value = JSON.parse(text, PARSE_OPTIONS)
      problem = non_standard_json(text) || lone_surrogate_problem(text, value)
      problem ? [nil, problem] : [value, nil]
    rescue JSON::ParserError => e # JSON::NestingError included
      [nil, Wire.shorten(e.message)]
    end

    # Where the first invalid byte is, for the InvalidEncoding message.
    # @param line [String]
    # @return [String]
    def encoding_problem(line)
      offset = VALID_UTF8_PREFIX.match(line.b)[0].bytesize
      format("invalid byte 0x%<byte>02X at byte %<offset>d", byte: line.getbyte(offset), offset: offset)
    end

    # What RFC 8259 forbids but Ruby's parser accepted, or nil.
    # @param text [String] a line the parser accepted
    # @return [String, nil]
    def non_standard_json(text)
      return nil unless text.include?("\\") || text.include?("/")
      return "invalid escape in a string" if INVALID_ESCAPE.match?(text)
      return "comments are not JSON" if comment_outside_strings?(text)

      nil
    end

    # The parser refuses a lone high surrogate but turns a lone low one into a string that is not
    # valid UTF-8; such a string is not Unicode text (protocol section 2).
    # @param text [String] the line
    # @param value [Object] what the parser made of it
    # @return [String, nil]
    def lone_surrogate_problem(text, value)
      return nil unless SURROGATE_ESCAPE.match?(text)

      stack = [value]
      until stack.empty?
        item = stack.pop
        case item
        when String
          unless item.valid_encoding?
            unit = item.b[/\xED[\xA0-\xBF][\x80-\xBF]/n].unpack("C*")
            code = ((unit[0] & 0x0F) << 12) | ((unit[1] & 0x3F) << 6) | (unit[2] & 0x3F)
            return format("a string holds the lone surrogate \\u%<code>04x, which is not Unicode text", code: code)
          end
        when Hash then stack.concat(item.keys, item.values)
        when Array then stack.concat(item)
        end
      end
      nil
    end

    # @param text [String]
    # @return [Boolean] true when a "/" appears outside every string (the start of a comment)
    def comment_outside_strings?(text)
      return false unless text.include?("/")

      scanner = StringScanner.new(text)
      until scanner.eos?
        scanner.skip(%r{[^"/]+})
        next if scanner.skip(JSON_STRING)
        return true if scanner.check(%r{/})

        return false # an unterminated string: the parser has already refused such a line
      end
      false
    end
  end
  private_constant :StrictJson
end
