import type { ResultBackend } from '../backend/result-backend.js';
import { celeryDate, decodeRecord, encodeRecord } from '../result/record.js';
import { readyStates, TaskState } from '../result/states.js';

/**
 * Records REVOKED for a task that has not finished, for workers that learn revocations from the
 * backend. A finished task (SUCCESS, FAILURE, REVOKED, REJECTED) keeps its record: revoking it
 * afterwards must not change what Python or tq readers see. The read and the write are two
 * calls, so a task finishing between them can still be overwritten (docs/guarantees.md).
 */
export async function recordRevokedUnlessFinished(backend: ResultBackend, taskId: string, ttlMs: number | undefined): Promise<boolean> {
  const current = await backend.fetch(taskId);
  if (current !== null && isFinished(current)) return false;
  const record = {
    status: TaskState.REVOKED,
    result: { exc_type: 'TaskRevokedError', exc_message: ['revoked'], exc_module: 'celery.exceptions' },
    traceback: null,
    children: [],
    date_done: celeryDate(),
    task_id: taskId,
  };
  await backend.store(taskId, encodeRecord(record), ttlMs === undefined ? {} : { ttlMs });
  return true;
}

function isFinished(bytes: Uint8Array): boolean {
  try {
    return readyStates.has(decodeRecord(bytes).status);
  } catch {
    return false; // an unreadable record is replaced, as before
  }
}
