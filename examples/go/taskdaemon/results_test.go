package taskdaemon

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func decodeLine(t *testing.T, line []byte) map[string]any {
	t.Helper()
	if len(line) == 0 || line[len(line)-1] != '\n' || strings.Count(string(line), "\n") != 1 {
		t.Fatalf("not one line: %q", line)
	}
	var message map[string]any
	if err := json.Unmarshal(line, &message); err != nil {
		t.Fatal(err)
	}
	return message
}

func TestNothingReturnedIsASuccessWithANullResult(t *testing.T) {
	message := decodeLine(t, resultLine(nil, "t1"))
	if message["status"] != "success" || message["result"] != nil || message["task_id"] != "t1" {
		t.Fatalf("got %v", message)
	}
	if _, present := message["result"]; !present {
		t.Fatal("result is absent, want null")
	}
}

func TestNonFiniteNumbersAreUnserialisable(t *testing.T) {
	for _, bad := range []any{math.NaN(), math.Inf(1), []any{map[string]any{"x": math.Inf(-1)}}} {
		message := decodeLine(t, resultLine(Success{Result: bad}, "t1"))
		if message["error_type"] != "UnserialisableResult" || message["task_id"] != "t1" ||
			!strings.HasPrefix(message["error"].(string), "result is not JSON-serialisable: ") {
			t.Fatalf("got %v", message)
		}
	}
}

func TestStringsThatAreNotUTF8AreUnserialisableAndNamed(t *testing.T) {
	message := decodeLine(t, resultLine(Success{Result: map[string]any{"a": []any{"ok", "\xff"}}}, "t1"))
	want := "result is not JSON-serialisable: result.a[1] is a string that is not valid UTF-8"
	if message["error"] != want || message["error_type"] != "UnserialisableResult" {
		t.Fatalf("got %v", message)
	}
}

func TestAnythingElseReturnedIsAnInvalidReturn(t *testing.T) {
	message := decodeLine(t, resultLine(map[string]any{"status": "success"}, "t1"))
	if message["error_type"] != "InvalidReturn" || !strings.HasPrefix(message["error"].(string), "the handler returned ") {
		t.Fatalf("got %v", message)
	}
}

func TestAnUnknownTaskTypeListsTheKnownOnesInOrder(t *testing.T) {
	none := func(*Task) any { return nil }
	handler := Dispatch(map[string]HandlerFunc{"b": none, "a b": none, "a": none})
	got := handler(&Task{Type: "zz"}).(Error)
	want := `no handler for task_type "zz"; this handler serves: "a", "a b", "b"`
	if got.Message != want || got.ErrorType != "UnknownTaskType" {
		t.Fatalf("got %+v", got)
	}
}

func TestAPanicBecomesAnErrorNamedForItsType(t *testing.T) {
	got := call(func(*Task) any { panic(&ArgumentError{Message: ""}) }, &Task{}).(Error)
	if got.ErrorType != "ArgumentError" || got.Message != "ArgumentError" || !strings.Contains(got.Traceback, "goroutine") {
		t.Fatalf("got %+v", got)
	}
}

func TestMetadataThatCannotBeEncodedIsNamed(t *testing.T) {
	message := decodeLine(t, resultLine(Success{Result: 1, Metadata: map[string]any{"bad": math.NaN()}}, "t1"))
	if message["error_type"] != "UnserialisableResult" || !strings.HasPrefix(message["error"].(string), "metadata is not JSON-serialisable: ") {
		t.Fatalf("got %v", message)
	}
	message = decodeLine(t, resultLine(Error{Message: "m", Metadata: map[string]any{"s": "\xff"}}, "t1"))
	if message["error"] != "metadata is not JSON-serialisable: metadata.s is a string that is not valid UTF-8" {
		t.Fatalf("got %v", message)
	}
}
