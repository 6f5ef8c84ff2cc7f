// Echo handler written with the TypeScript SDK (its built ESM output): answers each task with its task_data.
import { run, Success } from "../../sdks/typescript/dist/index.mjs";

run((task) => new Success(task.task_data));
