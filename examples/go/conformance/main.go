// Command conformance is the conformance handler of the Go example: one behaviour per
// task_type, as conformance/README.md lists them. Run the suite against it with
//
//	go build -o bin/conformance ./conformance
//	taskdaemon-conformance run --command bin/conformance
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"taskdaemon.dev/examples/go/taskdaemon"
)

// ConformanceError is what the `raise` task type panics with; every SDK's handler raises a
// class of this name.
type ConformanceError struct {
	Message string
}

func (e *ConformanceError) Error() string { return e.Message }

func main() {
	err := taskdaemon.Run(taskdaemon.Dispatch(map[string]taskdaemon.HandlerFunc{
		"echo":           echo,
		"value":          value,
		"attempt":        attempt,
		"fail":           fail,
		"metadata":       metadata,
		"raise":          raise,
		"unserialisable": unserialisable,
		"invalid-return": invalidReturn,
		"noise":          noise,
		"sleep":          sleep,
		"exit":           exit,
		"large":          large,
		"events":         events,
		"none":           none,
		"dependencies":   dependencies,
	}))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func echo(task *taskdaemon.Task) any {
	return taskdaemon.Success{Result: task.Data}
}

func value(task *taskdaemon.Task) any {
	return taskdaemon.Success{Result: task.Data["value"]}
}

func attempt(task *taskdaemon.Task) any {
	return taskdaemon.Success{Result: task.Attempt}
}

func fail(task *taskdaemon.Task) any {
	data := task.Data
	result := taskdaemon.Error{Message: text(data["message"])}
	result.Retryable, _ = data["retryable"].(bool)
	result.ErrorType, _ = data["error_type"].(string)
	if after, ok := data["retry_after"].(json.Number); ok {
		seconds := number(after)
		result.RetryAfter = &seconds
	}
	result.Metadata, _ = data["metadata"].(map[string]any)
	return result
}

func metadata(task *taskdaemon.Task) any {
	figures, _ := task.Data["metadata"].(map[string]any)
	return taskdaemon.Success{Result: task.Data["result"], Metadata: figures}
}

func raise(task *taskdaemon.Task) any {
	panic(&ConformanceError{Message: text(task.Data["message"])})
}

func unserialisable(task *taskdaemon.Task) any {
	switch task.Data["where"] {
	case "nested":
		return taskdaemon.Success{Result: map[string]any{"ok": []any{1, map[string]any{"bad": math.Inf(1)}}}}
	case "metadata":
		return taskdaemon.Success{Result: "fine", Metadata: map[string]any{"bad": math.NaN()}}
	case "string":
		// Go strings are bytes: the UTF-8-like encoding of the lone surrogate U+D800 is not UTF-8.
		return taskdaemon.Success{Result: map[string]any{"text": "lone surrogate \xed\xa0\x80"}}
	}
	return taskdaemon.Success{Result: math.NaN()}
}

func invalidReturn(*taskdaemon.Task) any {
	return map[string]any{"status": "success", "result": "not a Success"}
}

func noise(task *taskdaemon.Task) any {
	line := text(task.Data["line"])
	fmt.Println(line)
	os.Stdout.WriteString(line + "\n")
	stderr, ok := task.Data["stderr"].(string)
	if !ok {
		stderr = "noise on stderr"
	}
	fmt.Fprintln(os.Stderr, stderr)
	return taskdaemon.Success{Result: "quiet"}
}

func sleep(task *taskdaemon.Task) any {
	ms := task.Data["ms"].(json.Number)
	time.Sleep(time.Duration(number(ms) * float64(time.Millisecond)))
	return taskdaemon.Success{Result: map[string]any{"slept_ms": ms}}
}

func exit(task *taskdaemon.Task) any {
	os.Exit(int(number(task.Data["code"].(json.Number))))
	return nil
}

func large(task *taskdaemon.Task) any {
	return taskdaemon.Success{Result: strings.Repeat("x", int(number(task.Data["bytes"].(json.Number))))}
}

func events(task *taskdaemon.Task) any {
	for _, item := range task.Data["events"].([]any) {
		event := item.(map[string]any)
		if message, ok := event["log"]; ok {
			level, ok := event["level"].(string)
			if !ok {
				level = "info"
			}
			task.Log(level, text(message))
		} else if message, ok := event["message"]; ok {
			task.ProgressMessage(number(event["progress"].(json.Number)), text(message))
		} else {
			task.Progress(number(event["progress"].(json.Number)))
		}
	}
	return taskdaemon.Success{Result: "done"}
}

func none(*taskdaemon.Task) any {
	return nil
}

func dependencies(task *taskdaemon.Task) any {
	result := map[string]any{}
	for name, dependency := range task.Dependencies {
		result[name] = map[string]any{"task_id": dependency.TaskID, "task_type": dependency.TaskType, "result": dependency.Result}
	}
	return taskdaemon.Success{Result: result}
}

func text(value any) string {
	s, _ := value.(string)
	return s
}

func number(value json.Number) float64 {
	f, err := value.Float64()
	if err != nil {
		panic(err)
	}
	return f
}
