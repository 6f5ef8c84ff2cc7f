//go:build !linux

package taskdaemon

import "syscall"

// redirectStdoutToStderr makes file descriptor 1 a copy of 2.
func redirectStdoutToStderr() error {
	return syscall.Dup2(2, 1)
}
