package main

import (
	"encoding/json"
	"testing"

	"taskdaemon.dev/examples/go/taskdaemon"
)

func TestHelloGreetsByNameOrTheWorld(t *testing.T) {
	for name, want := range map[string]string{"Ada": "Hello, Ada!", "": "Hello, World!"} {
		data := map[string]any{}
		if name != "" {
			data["name"] = name
		}
		got := hello(&taskdaemon.Task{Data: data}).(taskdaemon.Success)
		if got.Result.(map[string]any)["message"] != want {
			t.Fatalf("%q: got %v, want %q", name, got.Result, want)
		}
	}
}

func TestHelloRefusesANameThatIsNotAString(t *testing.T) {
	got := hello(&taskdaemon.Task{Data: map[string]any{"name": json.Number("42")}}).(taskdaemon.Error)
	if got.ErrorType != "InvalidInput" || got.Message != "name must be a string, got number" {
		t.Fatalf("got %+v", got)
	}
}
