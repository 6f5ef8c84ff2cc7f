# frozen_string_literal: true

require_relative "lib/taskdaemon/version"

Gem::Specification.new do |spec|
  spec.name = "taskdaemon"
  spec.version = TaskDaemon::VERSION
  spec.authors = ["The TaskDaemon contributors"]
  spec.summary = "Write TaskDaemon handlers in Ruby: JSON-lines tasks in, one result out, nothing lost."
  spec.description = <<~TEXT.tr("\n", " ").strip
    The Ruby SDK for TaskDaemon handlers. TaskDaemon.run reads tasks as JSON lines on stdin and
    answers each with exactly one result line on stdout, in order: exceptions, malformed lines and
    results JSON cannot carry all become error results, ordinary output is kept off the protocol
    channel, and SIGTERM lets the task in hand finish. Includes TaskDaemon::Testing to unit-test
    handlers without a daemon, and RBS signatures. Standard library only.
  TEXT
  spec.homepage = "https://taskdaemon.dev/"
  spec.license = "MIT"
  spec.required_ruby_version = ">= 3.0"

  spec.metadata = {
    "homepage_uri" => spec.homepage,
    "rubygems_mfa_required" => "true"
  }

  spec.files = Dir["lib/**/*.rb", "sig/**/*.rbs", "README.md", "LICENSE"]
  spec.require_paths = ["lib"]
end
