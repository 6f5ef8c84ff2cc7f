# frozen_string_literal: true

# Pipe ping-pong: each line goes straight back, unparsed (the floor of a round trip).
$stdout.sync = true
while (line = $stdin.gets)
  $stdout.write(line)
end
