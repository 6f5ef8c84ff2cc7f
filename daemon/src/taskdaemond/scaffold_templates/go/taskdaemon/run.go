// Package taskdaemon runs a TaskDaemon handler in Go, written from protocol/README.md and the
// schemas alone, with the standard library only: it reads tasks as JSON lines on stdin, calls a
// handler function for each, one at a time, and writes one result line per task on stdout.
//
//	func main() {
//		err := taskdaemon.Run(func(task *taskdaemon.Task) any {
//			return taskdaemon.Success{Result: map[string]any{"hello": task.Data["name"]}}
//		})
//		if err != nil {
//			log.Fatal(err)
//		}
//	}
//
// A handler function returns a Success, an Error (values or pointers) or nil (success with a
// null result). A panic becomes an error result with the panic's type as error_type and the
// stack as traceback. While handlers run, file descriptor 1 points at stderr, so fmt.Println
// and child processes cannot write on the protocol stream.
package taskdaemon

import (
	"bufio"
	"fmt"
	"os"
	"os/signal"
	"reflect"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"syscall"
)

// HandlerFunc does the work of one task and returns Success, Error, their pointers, or nil.
type HandlerFunc func(task *Task) any

// Dispatch serves several task types with one program: each task goes to the function of its
// task_type, and an unknown type gets an UnknownTaskType error listing the known ones.
func Dispatch(handlers map[string]HandlerFunc) HandlerFunc {
	names := make([]string, 0, len(handlers))
	for name := range handlers {
		names = append(names, name)
	}
	sort.Strings(names) // byte order of UTF-8 is code point order
	known := make([]string, len(names))
	for i, name := range names {
		known[i] = fmt.Sprintf("%q", name)
	}
	return func(task *Task) any {
		handler, ok := handlers[task.Type]
		if !ok {
			return Error{
				Message:   fmt.Sprintf("no handler for task_type %q; this handler serves: %s", task.Type, strings.Join(known, ", ")),
				ErrorType: "UnknownTaskType",
			}
		}
		return handler(task)
	}
}

// Run serves tasks from stdin until end of input or SIGTERM (or SIGINT), then returns nil
// (the program should exit 0). It returns an error when stdout cannot be written.
func Run(handler HandlerFunc) error {
	out, err := protectStdout()
	if err != nil {
		return err
	}
	// SIGTERM: finish the task in hand, answer it, and read no further line (section 9).
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(signals)

	lines := make(chan []byte) // unbuffered: nothing is taken from the reader but the line in hand
	go readLines(bufio.NewReaderSize(os.Stdin, 1<<16), lines)
	for {
		select {
		case <-signals:
			return nil
		default:
		}
		select {
		case <-signals:
			return nil
		case line, open := <-lines:
			if !open {
				return nil
			}
			if err := answer(line, handler, out); err != nil {
				return err
			}
		}
	}
}

// readLines sends each line, its LF and one CR before it removed. Bytes after the last LF at
// end of input are a line too (section 2). Lines have no length limit.
func readLines(reader *bufio.Reader, lines chan<- []byte) {
	defer close(lines)
	for {
		line, err := reader.ReadBytes('\n')
		if len(line) > 0 {
			line = trimLineEnd(line)
			lines <- line
		}
		if err != nil { // io.EOF, or stdin failed: either way no more input
			return
		}
	}
}

func trimLineEnd(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line
}

// answer handles one line: a task is run and answered, a malformed line gets its error result,
// a blank line nothing.
func answer(line []byte, handler HandlerFunc, out *output) error {
	task, bad := parseLine(line)
	if bad != nil {
		return out.write(errorResultLine(Error{Message: bad.message, ErrorType: bad.errorType}, bad.taskID))
	}
	if task == nil {
		return nil
	}
	task.out = out
	out.begin(task.ID)
	returned := call(handler, task)
	out.end()
	return out.write(resultLine(returned, task.ID))
}

// call runs the handler; a panic becomes an error result (section 7).
func call(handler HandlerFunc, task *Task) (returned any) {
	defer func() {
		if recovered := recover(); recovered != nil {
			returned = panicError(recovered, string(debug.Stack()))
		}
	}()
	return handler(task)
}

func panicError(recovered any, traceback string) Error {
	kind := reflect.TypeOf(recovered)
	for kind.Kind() == reflect.Pointer {
		kind = kind.Elem()
	}
	name := kind.Name()
	if name == "" {
		name = kind.String()
	}
	message := fmt.Sprint(recovered)
	if message == "" {
		message = name
	}
	return Error{Message: message, ErrorType: name, Traceback: traceback}
}

// output is the protocol stream: results and events, one flushed line each.
type output struct {
	mu     sync.Mutex
	writer *bufio.Writer
	taskID string // the task in hand, "" between tasks: events are written only for it
}

// protectStdout keeps a private copy of file descriptor 1 for the protocol and points fd 1 at
// stderr, so that anything printed, by this process or its children, cannot reach stdout.
func protectStdout() (*output, error) {
	protocol, err := syscall.Dup(1)
	if err != nil {
		return nil, fmt.Errorf("taskdaemon: cannot keep stdout for the protocol: %w", err)
	}
	syscall.CloseOnExec(protocol)
	if err := redirectStdoutToStderr(); err != nil {
		return nil, fmt.Errorf("taskdaemon: cannot point stdout at stderr: %w", err)
	}
	file := os.NewFile(uintptr(protocol), "protocol")
	return &output{writer: bufio.NewWriterSize(file, 1<<16)}, nil
}

func (o *output) begin(taskID string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.taskID = taskID
}

func (o *output) end() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.taskID = ""
}

func (o *output) write(line []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.writeLocked(line)
}

func (o *output) writeLocked(line []byte) error {
	if _, err := o.writer.Write(line); err != nil {
		return err
	}
	return o.writer.Flush()
}

// writeEvent writes an event of the task in hand; it reports false when that task is over.
func (o *output) writeEvent(taskID string, event any) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.taskID != taskID {
		return false
	}
	line, err := encodeValue(event, "")
	if err != nil {
		panic(&ArgumentError{Message: "the event cannot be written: " + err.Error()})
	}
	if err := o.writeLocked(line); err != nil {
		fmt.Fprintf(os.Stderr, "taskdaemon: cannot write an event: %v\n", err)
	}
	return true
}
