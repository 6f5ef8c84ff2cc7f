// The hello handler: answers {"message": "Hello, <name>!"}, name from task_data (default World).
// Kept apart from handler.mjs (which serves stdin) so that tests can import it and use `call()`.
import { Success, TaskError } from "taskdaemon";

/** Greet task_data.name, or the World. */
export function hello(task) {
  const name = task.task_data.name ?? "World";
  if (typeof name !== "string") {
    return new TaskError(`name must be a string, got ${Array.isArray(name) ? "array" : typeof name}`, { errorType: "InvalidInput" });
  }
  return new Success({ message: `Hello, ${name}!` });
}
