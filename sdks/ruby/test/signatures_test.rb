# frozen_string_literal: true

require_relative "test_helper"
require "rbs"

# sig/taskdaemon.rbs describes the whole public API: every public class, module, constant and
# method has a signature, and every signature names something that exists. (`rake rbs` checks
# that the signatures themselves are well-formed.)
class SignaturesTest < Minitest::Test
  SIG_DIR = File.expand_path("../sig", __dir__)

  def builder
    @builder ||= begin
      loader = RBS::EnvironmentLoader.new
      loader.add(path: Pathname(SIG_DIR))
      RBS::DefinitionBuilder.new(env: RBS::Environment.from_loader(loader).resolve_type_names)
    end
  end

  def public_modules(namespace = TaskDaemon)
    namespace.constants(false).map { |name| namespace.const_get(name) }.grep(Module).flat_map do |mod|
      [mod] + public_modules(mod)
    end
  end

  def declared_methods(definition, type_name)
    definition.methods.select { |_, method| method.defined_in == type_name }.keys - [:initialize]
  end

  def test_every_public_constant_has_a_signature
    env = builder.env
    ([TaskDaemon] + public_modules).each do |mod|
      mod.constants(false).each do |name|
        type_name = TypeName("::#{mod.name}::#{name}")
        declared = env.class_decls.key?(type_name) || env.constant_decls.key?(type_name)
        assert declared, "sig/taskdaemon.rbs declares #{type_name}"
      end
    end
  end

  def test_instance_methods_match_the_signatures
    public_modules.grep(Class).each do |klass|
      type_name = TypeName("::#{klass.name}")
      declared = declared_methods(builder.build_instance(type_name), type_name)

      assert_equal klass.public_instance_methods(false).sort, declared.sort, "instance methods of #{klass}"
    end
  end

  def test_singleton_methods_match_the_signatures
    ([TaskDaemon] + public_modules).each do |mod|
      type_name = TypeName("::#{mod.name}")
      declared = declared_methods(builder.build_singleton(type_name), type_name) - %i[new allocate]

      assert_equal mod.singleton_methods(false).sort, declared.sort, "singleton methods of #{mod}"
    end
  end
end
