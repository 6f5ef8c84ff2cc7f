# frozen_string_literal: true

# The word counter: counts the words of task_data["text"] and answers the total, the number of
# distinct words and the most frequent ones:
#
#   {"text": "the cat and the hat", "top": 2}
#   -> {"total": 5, "distinct": 4, "top": [{"word": "the", "count": 2}, {"word": "and", "count": 1}]}
#
# A word is a run of letters and digits (any script), with inner apostrophes kept ("don't");
# case is ignored. "top" (default 10) is how many words to list, most frequent first, ties in
# alphabetical order. A missing or non-string text, or a bad "top", gets a non-retryable
# InvalidInput error that says what was wrong.
#
# Run it by hand, from this directory:
#   echo '{"task_id":"t1","task_type":"wordcount","task_data":{"text":"a b a"},"attempt":0}' \
#     | ruby -I ../../../sdks/ruby/lib handler.rb
require "taskdaemon"

# Counts words; see the file's header for the task and its result.
module WordCount
  # How many words the result lists when the task does not say.
  DEFAULT_TOP = 10

  # A word: letters, combining marks and digits, with apostrophes inside it.
  WORD = /[\p{L}\p{M}\p{N}]+(?:['\u2019][\p{L}\p{M}\p{N}]+)*/

  # @param task [TaskDaemon::Task]
  # @return [TaskDaemon::Success, TaskDaemon::Error]
  def self.call(task)
    text = task.task_data["text"]
    top = task.task_data.fetch("top", DEFAULT_TOP)
    problem = input_problem(task.task_data, text, top)
    return TaskDaemon::Error.new(problem, error_type: "InvalidInput") if problem

    counts = count(text)
    total = counts.sum { |_word, count| count }
    task.log("counted #{total} words, #{counts.size} distinct", level: :debug)
    TaskDaemon::Success.new(
      { "total" => total, "distinct" => counts.size, "top" => most_frequent(counts, top) },
      metadata: { "characters" => text.length }
    )
  end

  # @return [String, nil] what is wrong with the task's input, or nil
  def self.input_problem(task_data, text, top)
    return 'task_data must hold "text", the text whose words to count' unless task_data.key?("text")
    return "text must be a string, got #{json_type(text)}" unless text.is_a?(String)
    return nil if top.is_a?(Integer) && top >= 0

    "top must be an integer >= 0, got #{top.inspect}"
  end

  # @return [Hash{String => Integer}] each word (downcased) and how often it occurs
  def self.count(text)
    text.downcase.scan(WORD).tally
  end

  # @return [Array<Hash{String => Object}>] the top most frequent words, ties alphabetically
  def self.most_frequent(counts, top)
    counts.min_by(top) { |word, count| [-count, word] }.map { |word, count| { "word" => word, "count" => count } }
  end

  # @return [String] the JSON name of a decoded value's type, for messages
  def self.json_type(value)
    { NilClass => "null", TrueClass => "boolean", FalseClass => "boolean", Integer => "number",
      Float => "number", Array => "array", Hash => "object" }.fetch(value.class, value.class.to_s)
  end
end

TaskDaemon.run(WordCount) if $PROGRAM_NAME == __FILE__
