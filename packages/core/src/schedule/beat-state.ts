import { MessageDecodeError } from '../errors.js';
import type { RuntimeBackend } from '../backend/runtime-backend.js';
import type { ScheduleDefinition } from './schedule-entry.js';

/** The leader's lease. `token` grows by one at every change of leader (a fencing token). */
export interface Lease {
  readonly holder: string;
  readonly token: number;
  /** Epoch ms, by the holder's clock, after which another beat may take over. */
  readonly until: number;
}

/** Where an entry's ticks stand. */
export interface EntryProgress {
  /** The latest tick fired or deliberately skipped: ticks after it are still to come. */
  readonly last: number;
  /** Where `every` ticks are counted from. */
  readonly anchor: number;
  /** timingKey() of the definition these ticks belong to. */
  readonly timing: string;
  /** When the last tick was fired, and how many ticks were fired so far. */
  readonly firedAt?: number;
  readonly fired?: number;
}

/** A tick claimed but not yet known to be sent. */
export interface PendingTick {
  readonly entry: string;
  readonly task: string;
  readonly tick: number;
  readonly taskId: string;
  /** Sends that failed so far (the tick is dropped after maxSendAttempts). */
  readonly attempts: number;
}

/**
 * One record holds the lease, every entry's progress and the ticks claimed but not yet known to
 * be sent: a tick is claimed by the same compare-and-set that proves leadership, and stays
 * pending until the leader's next write says it went out, so a leader killed in between leaves
 * it to the next one.
 */
export interface BeatState {
  readonly lease: Lease | null;
  readonly entries: Readonly<Record<string, EntryProgress>>;
  readonly pending?: readonly PendingTick[];
}

/** Schedules added at runtime, and pauses (of runtime or code entries), shared by every beat. */
export interface ScheduleBook {
  readonly entries: Readonly<Record<string, ScheduleDefinition>>;
  readonly paused: Readonly<Record<string, true>>;
}

export const emptyState: BeatState = { lease: null, entries: {} };
export const emptyBook: ScheduleBook = { entries: {}, paused: {} };

export function stateKey(namespace: string): string {
  return `tq-beat.${namespace}.state`;
}

export function bookKey(namespace: string): string {
  return `tq-beat.${namespace}.schedules`;
}

/** A record and the version to compare against when writing it back (null: not written yet). */
export interface Versioned<T> {
  readonly value: T;
  readonly version: string | null;
}

export async function readRecord<T>(store: RuntimeBackend, key: string, empty: T): Promise<Versioned<T>> {
  const read = await store.getVersioned(key);
  if (!read) return { value: empty, version: null };
  try {
    return { value: { ...empty, ...(JSON.parse(Buffer.from(read.value).toString('utf8')) as T) }, version: read.version };
  } catch (cause) {
    throw new MessageDecodeError(key, 'the beat record is not valid JSON', { cause });
  }
}

export function writeRecord<T>(store: RuntimeBackend, key: string, value: T, version: string | null): Promise<string | null> {
  return store.compareAndSet(key, Buffer.from(JSON.stringify(value)), version);
}
