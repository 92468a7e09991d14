import { celeryDate, encodeRecord, type ResultRecord } from '@tq/core/adapter';

/** A Celery result record for `taskId` in `status`, with a result shaped as Celery writes it for that state. */
export function recordFor(taskId: string, status: string, result: unknown = resultFor(status)): ResultRecord {
  const failed = status === 'FAILURE' || status === 'RETRY';
  return {
    status,
    result,
    traceback: failed ? 'Traceback (most recent call last):\n  File "tasks.py", line 3, in add\nValueError: boom\n' : null,
    children: [],
    date_done: status === 'SUCCESS' || status === 'FAILURE' || status === 'REVOKED' ? celeryDate(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678))) : null,
    task_id: taskId,
  };
}

function resultFor(status: string): unknown {
  switch (status) {
    case 'SUCCESS':
      return { sum: 5, items: [1, 2.5, 'three', null, true], text: 'żółw 🐢' };
    case 'FAILURE':
    case 'RETRY':
      return { exc_type: 'ValueError', exc_message: ['boom'], exc_module: 'builtins' };
    case 'REVOKED':
      return { exc_type: 'TaskRevokedError', exc_message: ['revoked'], exc_module: 'celery.exceptions' };
    case 'REJECTED':
      return { exc_type: 'Reject', exc_message: ['rejected'], exc_module: 'celery.exceptions' };
    case 'PROGRESS':
      return { current: 3, total: 10 };
    case 'STARTED':
      return { pid: 4242, hostname: 'celery@conformance' };
    default:
      return null;
  }
}

/** The bytes a backend stores for `recordFor(taskId, status, result)`. */
export function recordBytes(taskId: string, status: string, result?: unknown): Uint8Array {
  return encodeRecord(result === undefined ? recordFor(taskId, status) : recordFor(taskId, status, result));
}

export function sameBytes(a: Uint8Array | null, b: Uint8Array): boolean {
  return a !== null && Buffer.from(a).equals(Buffer.from(b));
}
