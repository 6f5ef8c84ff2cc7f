// The echo handler written as CommonJS, loading the package with require().
const { run, Success } = require("taskdaemon");

run((task) => new Success({ task_id: task.task_id, task_type: task.task_type, task_data: task.task_data, attempt: task.attempt }));
