// Serves the hello handler on stdin/stdout. Try it:
//   echo '{"task_id":"t1","task_type":"hello","task_data":{"name":"Ada"},"attempt":0}' | node handler.mjs
import { run } from "taskdaemon";

import { hello } from "./hello.mjs";

run(hello);
