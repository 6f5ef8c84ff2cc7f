# frozen_string_literal: true

module TaskDaemon
  # The version of the taskdaemon gem.
  VERSION = "0.1.0"

  # The version of the handler protocol this gem speaks (protocol/README.md section 14).
  PROTOCOL_VERSION = 1
end
