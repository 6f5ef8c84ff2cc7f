package taskdaemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Task is one task message (protocol section 3), as the handler function sees it.
type Task struct {
	ID      string         // task_id: opaque, non-empty
	Type    string         // task_type: the kind of work
	Data    map[string]any // task_data: numbers are json.Number, so integers stay exact
	Attempt int64          // attempt: zero-based, 0 on the first run

	// Dependencies are the tasks this one waited for (section 3.1), by name: a workflow step's
	// name, else the dependency's task_id. Empty (never nil from the wire) when there are none.
	Dependencies map[string]Dependency

	out *output
}

// Dependency is one task a task waited for, and the result it completed with (section 3.1).
type Dependency struct {
	TaskID   string // task_id
	TaskType string // task_type
	Result   any    // result: the dependency's success result, decoded as Data is (numbers are json.Number)
}

// malformed is the answer to a non-blank line that is not a valid task (protocol section 8).
type malformed struct {
	errorType string
	message   string
	taskID    string // "" when the line's task_id could not be read
}

// parseLine turns one line (its LF, and one CR before it, already removed) into a task, a
// malformed-line answer, or neither when the line is blank and gets no answer (section 2).
func parseLine(line []byte) (*Task, *malformed) {
	if len(bytes.Trim(line, " \t\r")) == 0 {
		return nil, nil
	}
	if !utf8.Valid(line) {
		// encoding/json would quietly turn bad bytes into U+FFFD: check first.
		return nil, &malformed{errorType: "InvalidEncoding", message: "line is not valid UTF-8"}
	}
	if unit, found := loneSurrogate(line); found {
		// encoding/json would quietly turn a lone surrogate into U+FFFD: check first.
		return nil, &malformed{
			errorType: "InvalidJSON",
			message:   fmt.Sprintf("line is not valid JSON: a string holds the lone surrogate \\u%04x", unit),
		}
	}
	decoder := json.NewDecoder(bytes.NewReader(line))
	decoder.UseNumber()
	var value any
	if err := decoder.Decode(&value); err != nil {
		return nil, &malformed{errorType: "InvalidJSON", message: "line is not valid JSON: " + err.Error()}
	}
	if _, err := decoder.Token(); err != io.EOF {
		return nil, &malformed{errorType: "InvalidJSON", message: "line is not valid JSON: text after the value"}
	}
	return taskFromValue(value)
}

// loneSurrogate finds a \u escape of a surrogate that is not one half of a high-low pair.
// Inside a JSON string every backslash starts an escape, and outside one a backslash is not
// JSON at all, so escapes can be read without tracking strings.
func loneSurrogate(line []byte) (rune, bool) {
	for i := 0; ; {
		next := bytes.IndexByte(line[i:], '\\')
		if next < 0 {
			return 0, false
		}
		i += next
		unit, ok := escapedUnit(line, i)
		switch {
		case !ok:
			i += 2 // \n, \", \\ ... (or broken JSON, which the decoder reports)
		case unit >= 0xDC00 && unit <= 0xDFFF:
			return unit, true
		case unit >= 0xD800 && unit <= 0xDBFF:
			low, pair := escapedUnit(line, i+6)
			if !pair || low < 0xDC00 || low > 0xDFFF {
				return unit, true
			}
			i += 12
		default:
			i += 6
		}
	}
}

// escapedUnit reads the \uXXXX escape at line[i:], if there is one.
func escapedUnit(line []byte, i int) (rune, bool) {
	if i+6 > len(line) || line[i] != '\\' || line[i+1] != 'u' {
		return 0, false
	}
	unit, err := strconv.ParseUint(string(line[i+2:i+6]), 16, 16)
	if err != nil {
		return 0, false
	}
	return rune(unit), true
}

// taskFromValue checks a decoded JSON value against the task message (section 3). The error
// message names the field and what was wrong; the task_id is echoed once it could be read.
func taskFromValue(value any) (*Task, *malformed) {
	object, ok := value.(map[string]any)
	if !ok {
		return nil, &malformed{errorType: "InvalidTask", message: "a task must be a JSON object, got " + JSONType(value)}
	}
	invalid := func(message, taskID string) (*Task, *malformed) {
		return nil, &malformed{errorType: "InvalidTask", message: message, taskID: taskID}
	}
	taskID, problem := nonEmptyString(object, "task_id")
	if problem != "" {
		return invalid(problem, "")
	}
	taskType, problem := nonEmptyString(object, "task_type")
	if problem != "" {
		return invalid(problem, taskID)
	}
	data, present := object["task_data"]
	if !present {
		return invalid("task_data is missing", taskID)
	}
	dataObject, ok := data.(map[string]any)
	if !ok {
		return invalid("task_data must be an object, got "+JSONType(data), taskID)
	}
	attempt, problem := attemptValue(object)
	if problem != "" {
		return invalid(problem, taskID)
	}
	dependencies, problem := dependenciesValue(object)
	if problem != "" {
		return invalid(problem, taskID)
	}
	return &Task{ID: taskID, Type: taskType, Data: dataObject, Attempt: attempt, Dependencies: dependencies}, nil
}

// dependenciesValue reads the optional `dependencies`: an object of name to an object with
// task_id, task_type and result (section 3.1). Unknown members of a dependency are ignored.
func dependenciesValue(object map[string]any) (map[string]Dependency, string) {
	value, present := object["dependencies"]
	if !present {
		return map[string]Dependency{}, ""
	}
	entries, ok := value.(map[string]any)
	if !ok {
		return nil, "dependencies must be an object, got " + JSONType(value)
	}
	dependencies := make(map[string]Dependency, len(entries))
	for name, entry := range entries {
		where := "dependencies[" + strconv.Quote(name) + "]"
		members, ok := entry.(map[string]any)
		if !ok {
			return nil, where + " must be an object, got " + JSONType(entry)
		}
		taskID, problem := nonEmptyString(members, "task_id")
		if problem == "" {
			var taskType string
			taskType, problem = nonEmptyString(members, "task_type")
			dependencies[name] = Dependency{TaskID: taskID, TaskType: taskType, Result: members["result"]}
		}
		if _, present := members["result"]; problem == "" && !present {
			problem = "result is missing"
		}
		if problem != "" {
			return nil, where + "." + problem
		}
	}
	return dependencies, ""
}

func nonEmptyString(object map[string]any, name string) (string, string) {
	value, present := object[name]
	if !present {
		return "", name + " is missing"
	}
	text, ok := value.(string)
	if !ok {
		return "", name + " must be a string, got " + JSONType(value)
	}
	if text == "" {
		return "", name + " must not be empty"
	}
	return text, ""
}

// attemptValue reads `attempt`: a number whose value is a whole number from 0, however it is
// spelled (2, 2.0 and 2e0 are all 2: section 3).
func attemptValue(object map[string]any) (int64, string) {
	value, present := object["attempt"]
	if !present {
		return 0, "attempt is missing"
	}
	number, ok := value.(json.Number)
	if !ok {
		return 0, "attempt must be an integer, got " + JSONType(value)
	}
	text := number.String()
	if !strings.ContainsAny(text, ".eE") {
		whole, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return 0, "attempt must be an integer from 0 that fits in 64 bits, got " + text
		}
		if whole < 0 {
			return 0, "attempt must be at least 0, got " + text
		}
		return whole, ""
	}
	float, err := strconv.ParseFloat(text, 64)
	switch {
	case err != nil || math.IsInf(float, 0) || math.Abs(float) >= 1<<63:
		return 0, "attempt must be an integer from 0 that fits in 64 bits, got " + text
	case float != math.Trunc(float):
		return 0, "attempt must be an integer, got " + text
	case float < 0:
		return 0, "attempt must be at least 0, got " + text
	}
	return int64(float), ""
}

// JSONType names the JSON type of a decoded value (null, boolean, number, string, array, object),
// for messages.
func JSONType(value any) string {
	switch value.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", value)
}
