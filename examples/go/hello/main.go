// Command hello is the hello example as a Go handler: {"name": "Ada"} -> {"message": "Hello, Ada!"}.
package main

import (
	"log"

	"taskdaemon.dev/examples/go/taskdaemon"
)

func main() {
	err := taskdaemon.Run(func(task *taskdaemon.Task) any {
		name, ok := task.Data["name"].(string)
		if !ok {
			name = "World"
		}
		return taskdaemon.Success{Result: map[string]any{"message": "Hello, " + name + "!"}}
	})
	if err != nil {
		log.Fatal(err)
	}
}
