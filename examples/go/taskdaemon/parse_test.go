package taskdaemon

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The dependencies field (protocol section 3.1): read into Task.Dependencies, empty when absent,
// and a malformed one is an InvalidTask naming the member, with the task's id echoed.
func TestDependenciesAreReadAndEmptyWhenAbsent(t *testing.T) {
	task, bad := parseLine([]byte(`{"task_id":"t3","task_type":"x","task_data":{},"attempt":0,"dependencies":` +
		`{"load":{"task_id":"t1","task_type":"fetch","result":{"rows":42},"later":1},"none":{"task_id":"t2","task_type":"q","result":null}}}`))
	if bad != nil {
		t.Fatalf("got %+v", bad)
	}
	want := map[string]Dependency{
		"load": {TaskID: "t1", TaskType: "fetch", Result: map[string]any{"rows": json.Number("42")}},
		"none": {TaskID: "t2", TaskType: "q", Result: nil},
	}
	if !reflect.DeepEqual(task.Dependencies, want) {
		t.Fatalf("got %#v, want %#v", task.Dependencies, want)
	}
	plain, _ := parseLine([]byte(`{"task_id":"t","task_type":"x","task_data":{},"attempt":0}`))
	if plain.Dependencies == nil || len(plain.Dependencies) != 0 {
		t.Fatalf("got %#v, want an empty map", plain.Dependencies)
	}
}

func TestMalformedDependenciesAreAnInvalidTaskNamingTheMember(t *testing.T) {
	cases := map[string]string{
		`[]`:            `dependencies must be an object, got array`,
		`null`:          `dependencies must be an object, got null`,
		`{"load":"t1"}`: `dependencies["load"] must be an object, got string`,
		`{"load":{"task_id":"t1","task_type":"f"}}`:           `dependencies["load"].result is missing`,
		`{"load":{"task_type":"f","result":1}}`:               `dependencies["load"].task_id is missing`,
		`{"load":{"task_id":5,"task_type":"f","result":1}}`:   `dependencies["load"].task_id must be a string, got number`,
		`{"load":{"task_id":"t1","task_type":"","result":1}}`: `dependencies["load"].task_type must not be empty`,
	}
	for dependencies, message := range cases {
		task, bad := parseLine([]byte(`{"task_id":"t3","task_type":"x","task_data":{},"attempt":0,"dependencies":` + dependencies + `}`))
		if task != nil || bad == nil || *bad != (malformed{errorType: "InvalidTask", message: message, taskID: "t3"}) {
			t.Fatalf("%s: got %+v, want InvalidTask %q", dependencies, bad, message)
		}
	}
}
