package taskdaemon

import (
	"fmt"
	"math"
	"os"
	"unicode/utf8"
)

// ArgumentError is what Log and Progress panic with when the handler's own code asks for an
// event the protocol does not allow (section 5): the event is not written, and the panic,
// left alone, fails the task like any other (error_type "ArgumentError").
type ArgumentError struct {
	Message string
}

func (e *ArgumentError) Error() string { return e.Message }

// Levels are the log levels an event may carry, from least to most severe.
var Levels = []string{"debug", "info", "warning", "error"}

type logEvent struct {
	Event   string `json:"event"`
	TaskID  string `json:"task_id"`
	Level   string `json:"level"`
	Message string `json:"message"`
}

type progressEvent struct {
	Event    string  `json:"event"`
	TaskID   string  `json:"task_id"`
	Progress float64 `json:"progress"`
	Message  *string `json:"message,omitempty"`
}

// Log writes a log event about the task: level is debug, info, warning or error.
func (t *Task) Log(level, message string) {
	known := false
	for _, name := range Levels {
		known = known || level == name
	}
	if !known {
		panic(&ArgumentError{Message: fmt.Sprintf("level must be one of debug, info, warning, error; got %q", level)})
	}
	if !utf8.ValidString(message) {
		panic(&ArgumentError{Message: "a log message must be valid UTF-8"})
	}
	t.event(logEvent{Event: "log", TaskID: t.ID, Level: level, Message: message})
}

// Progress writes how far the task has got, a fraction from 0 to 1.
func (t *Task) Progress(fraction float64) {
	t.progress(fraction, nil)
}

// ProgressMessage is Progress with a message saying what the task is doing.
func (t *Task) ProgressMessage(fraction float64, message string) {
	if !utf8.ValidString(message) {
		panic(&ArgumentError{Message: "a progress message must be valid UTF-8"})
	}
	t.progress(fraction, &message)
}

func (t *Task) progress(fraction float64, message *string) {
	if math.IsNaN(fraction) || fraction < 0 || fraction > 1 {
		panic(&ArgumentError{Message: fmt.Sprintf("fraction must be a number from 0 to 1, got %v", fraction)})
	}
	t.event(progressEvent{Event: "progress", TaskID: t.ID, Progress: fraction, Message: message})
}

// event writes an event while the task is in hand; afterwards (a goroutine that outlived its
// task) it is dropped with a note on stderr: events of another task never reach stdout.
func (t *Task) event(event any) {
	if t.out == nil || !t.out.writeEvent(t.ID, event) {
		fmt.Fprintf(os.Stderr, "taskdaemon: event of task %q dropped: the task is over\n", t.ID)
	}
}
