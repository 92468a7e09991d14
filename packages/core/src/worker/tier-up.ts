import { setFlagsFromString } from 'node:v8';

/**
 * The bytecode a function runs before V8 considers optimizing it, in a worker's process: an
 * eighth of Node 20's default (--interrupt-budget=67584).
 */
export const workerInterruptBudget = 8192;

let madeEager = false;

/**
 * Makes V8's tier-up eager for this process (once; flags are process-wide).
 *
 * Why: a worker batches its broker commands (a take, a result store, an ack per moment), so the
 * code that runs once per batch (the adapter's and its client's command and reply code) runs
 * 10–50× less often than the code per task, and at V8's default budget it is optimized only
 * after tens of thousands of tasks: a Redis drain at concurrency 10 climbs for ~40,000 tasks
 * before it reaches its rate. Measured (docs/benchmarks.md, "Eager tier-up"): after 8,000 tasks
 * +19–28 % at c=10 with results stored, −10–14 % at c=100 with results ignored over the first
 * ~28,000 tasks, the same rates once warm, 3–6 MB less peak RSS.
 * WorkerOptions.v8DefaultTierUp keeps V8's default for a process whose other code is measured
 * to do better with it.
 */
export function makeTierUpEager(): void {
  if (madeEager) return;
  setFlagsFromString(`--interrupt-budget=${workerInterruptBudget}`);
  madeEager = true;
}
