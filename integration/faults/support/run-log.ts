import { existsSync, readFileSync } from 'node:fs';

/** One line of the run log the suite's tasks append (fixtures/count-tasks.mjs). */
export interface RunLine {
  readonly at: number;
  /** S: the task started; D: it finished. */
  readonly what: 'S' | 'D';
  readonly id: string;
}

/** The window of a fault: from its first moment to the moment it ended (healed, restarted, killed). */
export interface FaultWindow {
  readonly start: number;
  readonly end: number;
}

/** What a scenario measured, outside tq. */
export interface Tally {
  /** Ids sent that never finished. */
  readonly lost: string[];
  /** Extra finished runs, summed over ids (a task run 3 times counts 2). */
  readonly duplicates: number;
  /**
   * Ids that finished more than once although they were not in flight at the fault: their
   * first run started more than `graceMs` after it ended (the time its consequences may take:
   * leases of deliveries the worker could not extend meanwhile, a reconnect), and not among the
   * first `heldAtFault` tasks started after it (deliveries the worker held when it hit).
   */
  readonly duplicatedOutsideFault: string[];
  /** Tasks started before the fault ended and not finished by then: in flight at the fault. */
  readonly inFlight: number;
  /**
   * From the fault's end until work flowed again: the first run started after it had finished,
   * and every task in flight at the fault had finished (somewhere). null when nothing ran after.
   */
  readonly recoveryMs: number | null;
}

export function readRuns(path: string): RunLine[] {
  if (!existsSync(path)) return [];
  const runs: RunLine[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const [at, what, id] = line.split(' ');
    if (id && (what === 'S' || what === 'D')) runs.push({ at: Number(at), what, id });
  }
  return runs;
}

/** Ids with at least one finished run. */
export function finishedIds(runs: readonly RunLine[]): Set<string> {
  return new Set(runs.filter((r) => r.what === 'D').map((r) => r.id));
}

/**
 * Counts lost and repeated runs of `ids`, and how the work recovered from `fault`.
 * `heldAtFault`: how many deliveries the faulted worker may have held unacked, not yet started.
 */
export function tally(runs: readonly RunLine[], ids: readonly string[], fault: FaultWindow | undefined, heldAtFault = 0, graceMs = 0): Tally {
  const finished = new Map<string, number[]>();
  const firstStart = new Map<string, number>();
  for (const run of runs) {
    if (run.what === 'D') finished.set(run.id, [...(finished.get(run.id) ?? []), run.at]);
    else if (!firstStart.has(run.id)) firstStart.set(run.id, run.at);
  }
  const lost = ids.filter((id) => !finished.has(id));
  const startedAfter = fault ? [...firstStart].filter(([, at]) => at > fault.end).sort((a, b) => a[1] - b[1]) : [];
  const held = new Set(startedAfter.slice(0, heldAtFault).map(([id]) => id));
  let duplicates = 0;
  const duplicatedOutsideFault: string[] = [];
  for (const id of ids) {
    const extra = (finished.get(id)?.length ?? 0) - 1;
    if (extra <= 0) continue;
    duplicates += extra;
    if (!fault || ((firstStart.get(id) ?? 0) > fault.end + graceMs && !held.has(id))) duplicatedOutsideFault.push(id);
  }
  if (!fault) return { lost, duplicates, duplicatedOutsideFault, inFlight: 0, recoveryMs: null };
  const inFlight = ids.filter((id) => (firstStart.get(id) ?? Infinity) <= fault.end && !(finished.get(id) ?? []).some((at) => at <= fault.end));
  const firstAfter = runs.find((r) => r.what === 'D' && r.at > fault.end && (firstStart.get(r.id) ?? 0) > fault.end)?.at;
  const inFlightDone = inFlight.map((id) => Math.min(...(finished.get(id) ?? [Infinity])));
  const recoveredAt = Math.max(firstAfter ?? fault.end, ...inFlightDone, fault.end);
  return { lost, duplicates, duplicatedOutsideFault, inFlight: inFlight.length, recoveryMs: Number.isFinite(recoveredAt) ? recoveredAt - fault.end : null };
}
