package taskdaemon

import "syscall"

// redirectStdoutToStderr makes file descriptor 1 a copy of 2 (dup3: linux/arm64 has no dup2).
func redirectStdoutToStderr() error {
	return syscall.Dup3(2, 1, 0)
}
