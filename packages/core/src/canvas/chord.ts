import type { App } from '../app.js';
import { TqError } from '../errors.js';
import { celeryDate, encodeRecord } from '../result/record.js';
import { TaskState } from '../result/states.js';
import { jsonSerializer } from '../serializer/json.js';
import { applySignature } from './apply.js';
import { derivedTaskId } from './derived-id.js';
import { exceptionInfoRepr } from './python-repr.js';
import { fromSignatureDict, type Signature } from './signature.js';

/**
 * A chord whose header failed (or whose body could not be applied): the body is not applied,
 * its record is FAILURE with this error (Celery's celery.exceptions.ChordError) and its errbacks
 * run once.
 */
export class ChordError extends TqError {
  override name = 'ChordError';
  /** The header task that failed first, in header order, when known. */
  readonly failedTaskId: string | null;
  constructor(message: string, failedTaskId: string | null = null) {
    super('TQ_CHORD_FAILED', message);
    this.failedTaskId = failedTaskId;
  }
}

/** Celery's PROPAGATE_STATES: a header part in one of these fails the chord. */
const propagateStates: ReadonlySet<string> = new Set([TaskState.FAILURE, TaskState.REVOKED]);

/** The header task's place in a chord, from its message (or a chain element's options). */
export interface ChordMember {
  readonly id: string;
  readonly group: string | null;
  readonly groupIndex: number | null;
  readonly chord: unknown;
  readonly rootId: string | null;
}

/**
 * Reports a finished chord header task (Celery's on_chord_part_return). With a backend that
 * joins atomically (capabilities.chordJoin), the part that completes the chord applies the
 * body with the header results in group order, or fails it with a ChordError naming the first
 * failed member. Without one, nothing happens here: the producer sent celery.chord_unlock.
 */
export async function chordPartReturn(app: App, member: ChordMember, state: string, result: unknown): Promise<void> {
  if (!member.chord || !member.group) return;
  const backend = await app.backend();
  const inner = backend?.inner;
  if (!inner || !inner.capabilities.chordJoin || !inner.chordPartReturn) return;
  const encoded = jsonSerializer.encode([1, member.id, state, result === undefined ? null : result]);
  const parts = await inner.chordPartReturn(member.group, { encoded, groupIndex: member.groupIndex }, { ttlMs: app.config.resultTtlMs });
  if (!parts) return;
  const body = fromSignatureDict(app, member.chord);
  const values: unknown[] = [];
  for (const bytes of parts) {
    const [, taskId, partState, value] = jsonSerializer.decode(bytes) as [number, string, string, unknown];
    if (propagateStates.has(partState)) {
      await chordErrorFromStack(app, body, new ChordError(`Dependency ${taskId} raised ${exceptionInfoRepr(value)}`, taskId), member.rootId ?? member.id);
      return;
    }
    values.push(value);
  }
  try {
    await applySignature(app, body, {
      args: [values],
      options: { parent_id: member.id, root_id: member.rootId ?? member.id },
      newId: (path) => derivedTaskId(member.id, `chord-body/${path}`),
    });
  } catch (error) {
    await chordErrorFromStack(app, body, new ChordError(`Callback error: ${(error as Error).message}`), member.rootId ?? member.id);
  }
}

/**
 * Celery's chord_error_from_stack: the body's errbacks are applied with its id, and its record
 * becomes FAILURE with the ChordError (exc_module celery.exceptions, as Python reads it).
 */
export async function chordErrorFromStack(app: App, body: Signature, error: ChordError, rootId: string): Promise<void> {
  const bodyId = typeof body.options['task_id'] === 'string' ? body.options['task_id'] : null;
  app.logger.warn(`chord body ${body.task}${bodyId ? `[${bodyId}]` : ''} not applied: ${error.message}`);
  if (!bodyId) return;
  await applyErrbacks(app, body.options['link_error'], bodyId, rootId);
  const backend = await app.backend();
  if (!backend) return;
  const record = encodeRecord({
    status: TaskState.FAILURE,
    result: { exc_type: 'ChordError', exc_message: [error.message], exc_module: 'celery.exceptions' },
    traceback: null,
    children: [],
    date_done: celeryDate(),
    task_id: bodyId,
  });
  await backend.store(bodyId, record, { ttlMs: app.config.resultTtlMs });
}

/**
 * Celery's _call_task_errbacks for errbacks sent as tasks: one group, each errback called with
 * the failed task's id (prepended unless immutable), parent_id = that task. Ids are derived from
 * the failed task's id, so a redelivered failure re-sends them under the same ids.
 */
export async function applyErrbacks(app: App, errbacks: unknown, failedId: string, rootId: string): Promise<void> {
  const list = errbacks === null || errbacks === undefined ? [] : Array.isArray(errbacks) ? errbacks : [errbacks];
  if (list.length === 0) return;
  await applySignature(app, { task: 'celery.group', args: [], kwargs: { tasks: list }, options: {}, subtask_type: 'group', immutable: false }, {
    args: [failedId],
    options: { parent_id: failedId, root_id: rootId },
    newId: (path) => derivedTaskId(failedId, `errback/${path}`),
  });
}

