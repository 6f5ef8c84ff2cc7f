package taskdaemon

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The protocol's line vectors (protocol/vectors/lines.json), as every implementation loads them.
type lineVectors struct {
	Cases []struct {
		Description string `json:"description"`
		Tests       []struct {
			ID         string  `json:"id"`
			Line       *string `json:"line"`
			LineBase64 string  `json:"line_base64"`
			Expect     struct {
				Answer    string  `json:"answer"`
				ErrorType string  `json:"error_type"`
				TaskID    *string `json:"task_id"`
				Task      *struct {
					TaskID   string         `json:"task_id"`
					TaskType string         `json:"task_type"`
					TaskData map[string]any `json:"task_data"`
					Attempt  int64          `json:"attempt"`
				} `json:"task"`
			} `json:"expect"`
			Why string `json:"why"`
		} `json:"tests"`
	} `json:"cases"`
}

func TestEveryLineVectorGetsItsAnswer(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("..", "..", "..", "protocol", "vectors", "lines.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vectors lineVectors
	if err := json.Unmarshal(text, &vectors); err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, group := range vectors.Cases {
		for _, vector := range group.Tests {
			vector := vector
			count++
			t.Run(vector.ID, func(t *testing.T) {
				var raw []byte
				if vector.Line != nil {
					raw = []byte(*vector.Line)
				} else if raw, err = base64.StdEncoding.DecodeString(vector.LineBase64); err != nil {
					t.Fatal(err)
				}
				task, bad := parseLine(trimLineEnd(append(raw, '\n')))
				expect := vector.Expect
				switch expect.Answer {
				case "none":
					if task != nil || bad != nil {
						t.Fatalf("%s: expected no answer (%s)", vector.ID, vector.Why)
					}
				case "task":
					if bad != nil {
						t.Fatalf("%s: got %s %q (%s)", vector.ID, bad.errorType, bad.message, vector.Why)
					}
					got := map[string]any{"task_id": task.ID, "task_type": task.Type, "task_data": plain(t, task.Data), "attempt": task.Attempt}
					want := map[string]any{"task_id": expect.Task.TaskID, "task_type": expect.Task.TaskType, "task_data": plain(t, expect.Task.TaskData), "attempt": expect.Task.Attempt}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("%s: got %v, want %v (%s)", vector.ID, got, want, vector.Why)
					}
				case "error":
					wantID := ""
					if expect.TaskID != nil {
						wantID = *expect.TaskID
					}
					if bad == nil || bad.errorType != expect.ErrorType || bad.taskID != wantID {
						t.Fatalf("%s: got %+v, want %s with task_id %q (%s)", vector.ID, bad, expect.ErrorType, wantID, vector.Why)
					}
				default:
					t.Fatalf("%s: unknown answer %q", vector.ID, expect.Answer)
				}
			})
		}
	}
	if count < 30 {
		t.Fatalf("only %d line vectors found", count)
	}
}

// plain re-decodes a value so that numbers compare by value (json.Number and float64 alike).
func plain(t *testing.T, value any) any {
	text, err := json.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	var decoded any
	if err := json.Unmarshal(text, &decoded); err != nil {
		t.Fatal(err)
	}
	return decoded
}
