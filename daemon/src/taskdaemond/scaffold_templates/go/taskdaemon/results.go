package taskdaemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"
)

// Success answers a task with its value (protocol section 4.1).
type Success struct {
	Result   any            // any JSON-encodable value; nil is null
	Metadata map[string]any // optional figures about the run, kept beside the result
}

// Error answers a task that was not done (protocol section 4.2).
type Error struct {
	Message    string         // human-readable
	Retryable  bool           // true when a later attempt may succeed
	ErrorType  string         // optional machine-readable category
	RetryAfter *float64       // optional seconds to wait before the next attempt
	Traceback  string         // optional stack trace
	Metadata   map[string]any // optional
}

// The wire shapes: struct fields keep the members in a readable order.
type successLine struct {
	Status   string `json:"status"`
	Result   any    `json:"result"`
	TaskID   string `json:"task_id,omitempty"`
	Metadata any    `json:"metadata,omitempty"`
}

type errorLine struct {
	Status     string   `json:"status"`
	Error      string   `json:"error"`
	Retryable  bool     `json:"retryable"`
	TaskID     string   `json:"task_id,omitempty"`
	ErrorType  string   `json:"error_type,omitempty"`
	RetryAfter *float64 `json:"retry_after,omitempty"`
	Traceback  string   `json:"traceback,omitempty"`
	Metadata   any      `json:"metadata,omitempty"`
}

// resultLine encodes what a handler function returned as one result line (with its LF).
// Anything it cannot encode becomes an error result instead (section 7), never a crash.
func resultLine(returned any, taskID string) []byte {
	switch value := returned.(type) {
	case nil:
		return encodeOrRefuse(successLine{Status: "success", Result: nil, TaskID: taskID}, taskID)
	case Success:
		if line := refuseMetadata(value.Metadata, taskID); line != nil {
			return line
		}
		return encodeOrRefuse(successLine{"success", value.Result, taskID, metadata(value.Metadata)}, taskID)
	case *Success:
		return resultLine(*value, taskID)
	case Error:
		if line := refuseMetadata(value.Metadata, taskID); line != nil {
			return line
		}
		return encodeOrRefuse(errorLine{
			Status: "error", Error: value.Message, Retryable: value.Retryable, TaskID: taskID,
			ErrorType: value.ErrorType, RetryAfter: value.RetryAfter, Traceback: value.Traceback,
			Metadata: metadata(value.Metadata),
		}, taskID)
	case *Error:
		return resultLine(*value, taskID)
	}
	return errorResultLine(Error{
		Message:   fmt.Sprintf("the handler returned %T; return taskdaemon.Success, taskdaemon.Error or nil", returned),
		ErrorType: "InvalidReturn",
	}, taskID)
}

// metadata keeps a nil map absent and an empty one as {}.
func metadata(value map[string]any) any {
	if value == nil {
		return nil
	}
	return value
}

// errorResultLine encodes an error result the handler runtime itself made; its fields are
// plain text, so it always encodes.
func errorResultLine(err Error, taskID string) []byte {
	return resultLine(err, taskID)
}

// refuseMetadata is the error result for metadata that cannot be encoded, or nil.
func refuseMetadata(figures map[string]any, taskID string) []byte {
	if figures == nil {
		return nil
	}
	if _, err := encodeValue(figures, "metadata"); err != nil {
		return errorResultLine(Error{
			Message:   "metadata is not JSON-serialisable: " + err.Error(),
			ErrorType: "UnserialisableResult",
		}, taskID)
	}
	return nil
}

func encodeOrRefuse(message any, taskID string) []byte {
	line, err := encodeValue(message, "")
	if err != nil {
		return errorResultLine(Error{
			Message:   "result is not JSON-serialisable: " + err.Error(),
			ErrorType: "UnserialisableResult",
		}, taskID)
	}
	return line
}

// encodeValue writes `message` as compact JSON and a LF. encoding/json refuses NaN and the
// infinities but would quietly replace bytes that are not UTF-8: those are refused first, and
// named from `root`.
func encodeValue(message any, root string) ([]byte, error) {
	if where := notUTF8(reflect.ValueOf(message), root, 0); where != "" {
		return nil, fmt.Errorf("%s is a string that is not valid UTF-8", where)
	}
	var buffer bytes.Buffer
	encoder := json.NewEncoder(&buffer)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(message); err != nil {
		return nil, err
	}
	return buffer.Bytes(), nil
}

// maxDepth bounds the walk below; encoding/json reports cycles and deeper values itself.
const maxDepth = 10000

// notUTF8 finds a string (or map key) that is not valid UTF-8 and says where it is.
func notUTF8(value reflect.Value, where string, depth int) string {
	if depth > maxDepth || !value.IsValid() {
		return ""
	}
	switch value.Kind() {
	case reflect.String:
		if !utf8.ValidString(value.String()) {
			return where
		}
	case reflect.Interface, reflect.Pointer:
		if !value.IsNil() {
			return notUTF8(value.Elem(), where, depth+1)
		}
	case reflect.Map:
		iter := value.MapRange()
		for iter.Next() {
			key := fmt.Sprint(iter.Key().Interface())
			if iter.Key().Kind() == reflect.String && !utf8.ValidString(key) {
				return where + " (a key)"
			}
			if found := notUTF8(iter.Value(), join(where, key), depth+1); found != "" {
				return found
			}
		}
	case reflect.Slice, reflect.Array:
		if value.Type().Elem().Kind() == reflect.Uint8 {
			return "" // []byte is written as base64
		}
		for i := 0; i < value.Len(); i++ {
			if found := notUTF8(value.Index(i), fmt.Sprintf("%s[%d]", where, i), depth+1); found != "" {
				return found
			}
		}
	case reflect.Struct:
		for i := 0; i < value.NumField(); i++ {
			field := value.Type().Field(i)
			if field.IsExported() {
				name := strings.Split(field.Tag.Get("json"), ",")[0]
				if name == "" {
					name = field.Name
				}
				if found := notUTF8(value.Field(i), join(where, name), depth+1); found != "" {
					return found
				}
			}
		}
	}
	return ""
}

func join(where, name string) string {
	if where == "" {
		return name
	}
	return where + "." + name
}
