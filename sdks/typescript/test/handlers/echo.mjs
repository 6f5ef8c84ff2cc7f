// Answers each task with its own four fields: the handler protocol/vectors/README.md asks runners to use.
import { run, Success } from "taskdaemon";

run((task) => new Success({ task_id: task.task_id, task_type: task.task_type, task_data: task.task_data, attempt: task.attempt }));
