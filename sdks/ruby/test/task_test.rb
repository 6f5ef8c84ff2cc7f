# frozen_string_literal: true

require_relative "test_helper"

class TaskTest < Minitest::Test
  def build(**fields)
    TaskDaemon::Task.new(task_id: "t1", task_type: "echo", task_data: {}, attempt: 0, **fields)
  end

  def test_task_exposes_the_four_protocol_fields_and_is_frozen
    task = build(task_data: { "n" => 1 }, attempt: 2)

    assert_equal({ task_id: "t1", task_type: "echo", task_data: { "n" => 1 }, attempt: 2, tags: {}, dependencies: {} },
                 task.to_h)
    assert_predicate task, :frozen?
    assert_raises(NoMethodError) { task.instance_eval { self.attempt = 3 } }
  end

  def test_tags_are_kept_frozen_and_tags_that_are_not_strings_are_refused
    task = build(tags: { "tenant" => "acme" })

    assert_equal({ "tenant" => "acme" }, task.tags)
    assert_predicate task.tags, :frozen?
    assert_empty build.tags
    error = assert_raises(TypeError) { build(tags: { "n" => 1 }) }
    assert_equal 'tags["n"] must be a string, got integer', error.message
    assert_raises(TypeError) { build(tags: ["a"]) }
  end

  def test_dependencies_are_kept_frozen_and_default_to_empty
    load = TaskDaemon::Dependency.new(task_id: "t0", task_type: "fetch", result: { "rows" => 42 })
    given = { "load" => load }
    task = build(dependencies: given)
    given["other"] = load

    assert_equal({ "load" => load }, task.dependencies)
    assert_equal({ "rows" => 42 }, task.dependencies.fetch("load").result)
    assert_predicate task.dependencies, :frozen?
    assert_predicate task.dependencies.fetch("load"), :frozen?
    assert_empty build.dependencies
    assert_predicate build.dependencies, :frozen?
  end

  def test_dependencies_that_are_not_dependency_objects_are_refused
    error = assert_raises(TypeError) { build(dependencies: { "load" => { "task_id" => "t0" } }) }
    assert_equal 'dependencies["load"] must be a Dependency, got Hash', error.message
    assert_raises(TypeError) { build(dependencies: [1]) }
    assert_raises(TypeError) do
      build(dependencies: { load: TaskDaemon::Dependency.new(task_id: "t0", task_type: "fetch") })
    end
  end

  def test_a_dependency_is_a_frozen_value_that_checks_its_fields
    dependency = TaskDaemon::Dependency.new(task_id: "t0", task_type: "fetch", result: [1])

    assert_equal({ task_id: "t0", task_type: "fetch", result: [1] }, dependency.to_h)
    assert_predicate dependency, :frozen?
    assert_nil TaskDaemon::Dependency.new(task_id: "t0", task_type: "fetch").result
    assert_equal dependency, TaskDaemon::Dependency.new(task_id: "t0", task_type: "fetch", result: [1])
    assert_raises(ArgumentError) { TaskDaemon::Dependency.new(task_id: "", task_type: "fetch") }
    assert_raises(TypeError) { TaskDaemon::Dependency.new(task_id: "t0", task_type: 3) }
    assert_match(/task_type="fetch" result=\[1\]/, dependency.inspect)
    case dependency
    in { task_type: "fetch", result: [Integer] } then pass
    end
  end

  def test_fields_the_protocol_does_not_allow_are_refused_with_the_field_named
    cases = {
      { task_id: "" } => [ArgumentError, "task_id must not be empty"],
      { task_id: 5 } => [TypeError, "task_id must be a string, got integer"],
      { task_type: nil } => [TypeError, "task_type must be a string, got null"],
      { task_data: [1] } => [TypeError, "task_data must be an object, got array"],
      { attempt: -1 } => [ArgumentError, "attempt must be >= 0, got -1"],
      { attempt: true } => [TypeError, "attempt must be an integer, got boolean"],
      { attempt: 0.5 } => [TypeError, "attempt must be an integer, got number 0.5"],
      { task_id: "\xFF".b } => [ArgumentError, "task_id must be valid UTF-8 text"]
    }
    cases.each do |fields, (kind, message)|
      error = assert_raises(kind, fields.inspect) { build(**fields) }
      assert_equal message, error.message
    end
  end

  def test_log_emits_a_log_event_with_the_level
    events = []
    task = build(on_event: events.method(:push))
    task.log("fetched 3 pages")
    task.log("slow", level: :warning)

    assert_equal [
      { "event" => "log", "task_id" => "t1", "level" => "info", "message" => "fetched 3 pages" },
      { "event" => "log", "task_id" => "t1", "level" => "warning", "message" => "slow" }
    ], events
  end

  def test_log_refuses_an_unknown_level_naming_the_allowed_ones
    error = assert_raises(ArgumentError) { build.log("x", level: "warn") }
    assert_equal 'level must be one of debug, info, warning, error; got "warn"', error.message
    assert_raises(TypeError) { build.log(42) }
  end

  def test_progress_emits_a_progress_event_with_an_optional_message
    events = []
    task = build(on_event: events.method(:push))
    task.progress(0.5, "halfway")
    task.progress(1)
    task.progress(Rational(1, 4))

    assert_equal [
      { "event" => "progress", "task_id" => "t1", "progress" => 0.5, "message" => "halfway" },
      { "event" => "progress", "task_id" => "t1", "progress" => 1 },
      { "event" => "progress", "task_id" => "t1", "progress" => 0.25 }
    ], events
  end

  def test_progress_outside_zero_to_one_is_refused
    [1.5, -0.1, Float::NAN, Float::INFINITY].each do |fraction|
      error = assert_raises(ArgumentError) { build.progress(fraction) }
      assert_match(/\Afraction must be a number from 0 to 1, got /, error.message)
    end
    assert_raises(TypeError) { build.progress("50%") }
    assert_raises(TypeError) { build.progress(0.5, 3) }
  end

  def test_events_of_a_task_built_by_hand_are_checked_then_dropped
    assert_nil build.log("nobody listens")
    assert_nil build.progress(0.1)
  end
end
