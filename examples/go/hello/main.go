// Command hello is the hello example as a Go handler: {"name": "Ada"} -> {"message": "Hello, Ada!"},
// the World when there is no name. Try it:
//
//	go build -o bin/ ./hello
//	echo '{"task_id":"t1","task_type":"hello","task_data":{"name":"Ada"},"attempt":0}' | bin/hello
package main

import (
	"log"

	"taskdaemon.dev/examples/go/taskdaemon"
)

func hello(task *taskdaemon.Task) any {
	name, present := task.Data["name"]
	if !present {
		name = "World"
	}
	text, ok := name.(string)
	if !ok {
		return taskdaemon.Error{Message: "name must be a string, got " + taskdaemon.JSONType(name), ErrorType: "InvalidInput"}
	}
	return taskdaemon.Success{Result: map[string]any{"message": "Hello, " + text + "!"}}
}

func main() {
	if err := taskdaemon.Run(hello); err != nil {
		log.Fatal(err)
	}
}
