import { setFlagsFromString } from 'node:v8';

let turnedOff = false;

/**
 * Turns V8's allocation-site pretenuring off for this process (once; flags are process-wide).
 *
 * Why: once most objects made by one object or array literal survived a scavenge, V8 allocates
 * that literal's objects straight into the old space. A worker can trip it when a prefetch batch
 * is decoded at once and waits, or when its process sent many tasks before; from then on the
 * small objects that hold each delivery are born old. Dead, an old object still keeps the young
 * objects it points to (the parsed envelope, the body) through every scavenge until the next
 * full collection, so those are promoted as well: ~1 KB a task on a Redis drain, and the old
 * space grows until a full collection. Measured: 3 runs of 4 in a process that had sent the
 * tasks, 1 of 2 in a worker-only process at c=100 with results stored; drains that send their
 * tasks first (profile-drain.mjs) ran 20–30 % faster with it off. Off, 0.02–0.4 KB a task is
 * promoted in every run (docs/benchmarks.md, "Pretenuring").
 * A worker process allocates little that lives long after its start, which is what pretenuring
 * is for; WorkerOptions.v8Pretenuring keeps it on for a process that does.
 */
export function turnOffPretenuring(): void {
  if (turnedOff) return;
  setFlagsFromString('--no-allocation-site-pretenuring');
  turnedOff = true;
}
