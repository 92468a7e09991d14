import { setFlagsFromString } from 'node:v8';

let turnedOff = false;

/**
 * Turns V8's allocation-site pretenuring off for this process (once; flags are process-wide).
 *
 * Why: once most objects made by one object or array literal survived a scavenge, V8 allocates
 * that literal's objects straight into the old space. A worker trips it at start, when its first
 * prefetch batch is decoded at once and waits; from then on, the small objects that hold each
 * delivery are born old. Dead, an old object still keeps the young objects it points to (the
 * parsed envelope, the body) through every scavenge until the next full collection, so those
 * are promoted as well: ~1 KB a task reached the old space on a Redis drain at any concurrency,
 * which grew until a full collection and spent CPU on copying and marking. With it off, 0.02 KB
 * a task does, and a drain runs 20–30 % faster on less memory (docs/benchmarks.md, "Pretenuring").
 * A worker process allocates little that lives long after its start, which is what pretenuring
 * is for; WorkerOptions.v8Pretenuring keeps it on for a process that does.
 */
export function turnOffPretenuring(): void {
  if (turnedOff) return;
  setFlagsFromString('--no-allocation-site-pretenuring');
  turnedOff = true;
}
