import type { ResultBackend } from '../backend/result-backend.js';

/**
 * Where a queue's pause lives: a record in the result backend under a key no task id takes
 * ("tq-queue-paused:<queue>"), so it is as durable as the results and outlives every worker.
 */
export function pauseKey(queue: string): string {
  return `tq-queue-paused:${queue}`;
}

export interface PauseRecord {
  readonly paused: true;
  /** ISO time of the pause. */
  readonly at: string;
  /** Who paused it (hostname or 'api'). */
  readonly by: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export async function writePause(backend: ResultBackend, queue: string, by: string): Promise<void> {
  const record: PauseRecord = { paused: true, at: new Date().toISOString(), by };
  // ttlMs 0: no expiry where the backend allows it (a NATS KV bucket's max age still applies).
  await backend.store(pauseKey(queue), encoder.encode(JSON.stringify(record)), { ttlMs: 0 });
}

export async function clearPause(backend: ResultBackend, queue: string): Promise<void> {
  await backend.forget(pauseKey(queue));
}

/** The pause record of `queue`, or null when it is not paused. */
export async function readPause(backend: ResultBackend, queue: string): Promise<PauseRecord | null> {
  const bytes = await backend.fetch(pauseKey(queue));
  if (!bytes) return null;
  try {
    const value = JSON.parse(decoder.decode(bytes)) as Partial<PauseRecord>;
    return value.paused === true ? { paused: true, at: String(value.at ?? ''), by: String(value.by ?? '') } : null;
  } catch {
    return null;
  }
}
