// Serves the primes handler on stdin/stdout. Try it:
//   echo '{"task_id":"t1","task_type":"primes","task_data":{"limit":100},"attempt":0}' | node handler.mjs
import { run } from "taskdaemon";

import { primes } from "./primes.mjs";

run(primes);
