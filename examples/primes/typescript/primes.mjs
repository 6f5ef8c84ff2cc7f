// The primes handler: a sieve of Eratosthenes. task_data {"limit": N} answers
// {"count": <primes <= N>, "largest": <the largest, or null>, "primes": <the first few>}.
// Kept apart from handler.mjs (which serves stdin) so that tests can import it and use `call()`.
import { Success, TaskError } from "taskdaemon";

/** The largest limit served: the sieve takes one byte per number, so this caps its memory at 10 MB. */
export const MAX_LIMIT = 10_000_000;

/** How many of the smallest primes the answer lists. */
export const FIRST_FEW = 10;

function invalid(message) {
  return new TaskError(message, { errorType: "InvalidInput" });
}

/** Count the primes up to task_data.limit. */
export function primes(task) {
  const { limit } = task.task_data;
  if (limit === undefined) return invalid(`task_data.limit is required: an integer from 0 to ${MAX_LIMIT}`);
  if (typeof limit !== "number" || !Number.isInteger(limit)) {
    return invalid(`limit must be an integer from 0 to ${MAX_LIMIT}, got ${JSON.stringify(limit)}`);
  }
  if (limit < 0 || limit > MAX_LIMIT) return invalid(`limit must be from 0 to ${MAX_LIMIT}, got ${limit}`);

  const started = performance.now();
  const composite = new Uint8Array(limit + 1); // composite[n] === 1: n is not prime
  for (let n = 2; n * n <= limit; n += 1) {
    if (composite[n] === 0) for (let multiple = n * n; multiple <= limit; multiple += n) composite[multiple] = 1;
  }
  let count = 0;
  let largest = null;
  const first = [];
  for (let n = 2; n <= limit; n += 1) {
    if (composite[n] === 0) {
      count += 1;
      largest = n;
      if (first.length < FIRST_FEW) first.push(n);
    }
  }
  const elapsedMs = Math.round((performance.now() - started) * 1000) / 1000;
  task.log(`sieved ${limit} numbers: ${count} primes`);
  return new Success({ count, largest, primes: first }, { metadata: { elapsed_ms: elapsedMs } });
}
