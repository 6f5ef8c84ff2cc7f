# frozen_string_literal: true

require_relative "test_helper"
require "rubygems/package"
require "tmpdir"

# The gem as users get it: built by `gem build`, installed offline, run without -I.
class GemTest < Minitest::Test
  include ProtocolAssertions

  SDK_DIR = File.expand_path("..", __dir__)

  def build_gem(dir)
    path = File.join(dir, "taskdaemon.gem")
    output, status = Open3.capture2e("gem", "build", "taskdaemon.gemspec", "--output", path, chdir: SDK_DIR)
    assert_predicate status, :success?, output
    [path, output]
  end

  def test_the_gem_builds_without_warnings_and_carries_lib_sig_readme_and_license
    Dir.mktmpdir do |dir|
      path, output = build_gem(dir)
      refute_match(/warning/i, output)

      contents = Gem::Package.new(path).contents
      expected = Dir.chdir(SDK_DIR) { Dir["lib/**/*.rb", "sig/**/*.rbs"] } + %w[README.md LICENSE]
      assert_equal expected.sort, contents.sort
      assert_includes contents, "sig/taskdaemon.rbs"
      assert_includes contents, "lib/taskdaemon.rb"

      spec = Gem::Package.new(path).spec
      assert_equal [TaskDaemon::VERSION, "MIT", [], Gem::Requirement.new(">= 3.0")],
                   [spec.version.to_s, spec.license, spec.runtime_dependencies, spec.required_ruby_version]
    end
  end

  def test_the_installed_gem_runs_a_handler
    Dir.mktmpdir do |dir|
      path, = build_gem(dir)
      home = File.join(dir, "home")
      output, status = Open3.capture2e("gem", "install", "--local", "--no-document", "--install-dir", home, path)
      assert_predicate status, :success?, output

      env = { "GEM_HOME" => home, "GEM_PATH" => home, "RUBYLIB" => nil, "RUBYOPT" => nil }
      script = 'gem "taskdaemon"; require "taskdaemon"; ' \
               'TaskDaemon.run { |t| TaskDaemon::Success.new([t.task_id, $LOADED_FEATURES.grep(/taskdaemon\.rb/)]) }'
      stdout, stderr, status = Open3.capture3(env, RbConfig.ruby, "-e", script,
                                              stdin_data: "#{task_line(task_id: 'g1')}\n")
      assert_predicate status, :success?, stderr
      id, loaded = JSON.parse(stdout)["result"]
      assert_equal "g1", id
      assert loaded.first.start_with?(home), "loaded from the installed gem: #{loaded.inspect}"
    end
  end
end
