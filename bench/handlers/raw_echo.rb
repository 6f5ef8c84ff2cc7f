# frozen_string_literal: true

# The same echo with no SDK: read a line, parse it, dump the answer, write it, flush.
require "json"

$stdout.sync = true
while (line = $stdin.gets)
  task = JSON.parse(line)
  $stdout.write(JSON.generate({ "status" => "success", "result" => task["task_data"], "task_id" => task["task_id"] }), "\n")
end
