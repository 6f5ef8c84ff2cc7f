# frozen_string_literal: true

require_relative "test_helper"

# The hand-written schema checks in support/protocol_shapes.rb give the verdict of
# protocol/schema/result.schema.json and event.schema.json on every example in
# protocol/vectors/result.json and event.json.
class ProtocolShapesTest < Minitest::Test
  {
    "result.json" => :result_problems,
    "event.json" => :event_problems
  }.each do |file, check|
    JSON.parse(File.read(File.join(PROTOCOL_DIR, "vectors", file))).fetch("cases").each do |group|
      group.fetch("tests").each do |vector|
        define_method("test_shape_#{vector.fetch('id').tr('-', '_')}") do
          problems = ProtocolShapes.public_send(check, vector.fetch("data"))

          assert_equal vector.fetch("valid"), problems.empty?,
                       "#{vector['id']}: #{vector['description']} (#{vector['why']}); problems: #{problems.inspect}"
        end
      end
    end
  end
end
