import type { App } from '../app.js';
import { MessageDecodeError } from '../errors.js';
import type { TaskRequest } from '../protocol/message.js';
import { celeryDate, encodeRecord, exceptionInfo } from '../result/record.js';
import { TaskState } from '../result/states.js';
import { applySignature } from './apply.js';
import { applyErrbacks, chordPartReturn } from './chord.js';
import { derivedTaskId } from './derived-id.js';
import type { ResultTuple } from './group-result.js';
import { fromSignatureDict, isSignatureDict, type SignatureDict } from './signature.js';

/** True when the message carries canvas work for the worker: callbacks, errbacks, a chain or a chord. */
export function hasCanvas(request: TaskRequest): boolean {
  const { callbacks, errbacks, chain, chord } = request.embed;
  return Boolean(callbacks?.length || errbacks?.length || chain?.length || chord);
}

/** The signature dicts of an embed field; anything else in it is a MessageDecodeError (the task then fails with it), never skipped. */
function signatures(value: unknown): SignatureDict[] {
  if (value === null || value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  for (const item of list) if (!isSignatureDict(item)) throw new MessageDecodeError('embed', `not a Celery signature: ${JSON.stringify(item)?.slice(0, 200)}`);
  return list as SignatureDict[];
}

/**
 * What Celery's trace does after a task succeeds, before its result is stored: applies the
 * callbacks with the result prepended (several as one group, groups among them on their own),
 * then the next chain step with the rest of the chain. Every id they get is derived from this
 * task's id (see derivedTaskId) unless the signature carries one (chain steps do). Returns the
 * children for the task's SUCCESS record (Celery's format).
 */
export async function applySuccessors(app: App, request: TaskRequest, value: unknown): Promise<ResultTuple[]> {
  const children: ResultTuple[] = [];
  const parent = { parent_id: request.id, root_id: request.rootId ?? request.id };
  const callbacks = signatures(request.embed.callbacks);
  if (callbacks.length === 1) {
    const result = await applySignature(app, callbacks[0]!, { args: [value], options: parent, newId: (path) => derivedTaskId(request.id, `link/${path}`) });
    children.push(result.asTuple());
  } else if (callbacks.length > 1) {
    const groups = callbacks.filter((c) => c.subtask_type === 'group');
    const tasks = callbacks.filter((c) => c.subtask_type !== 'group');
    for (const [index, g] of groups.entries()) {
      const result = await applySignature(app, g, { args: [value], options: parent, newId: (path) => derivedTaskId(request.id, `link-group/${index}/${path}`) });
      children.push(result.asTuple());
    }
    if (tasks.length) {
      const together = { task: 'celery.group', args: [], kwargs: { tasks }, options: {}, subtask_type: 'group', immutable: false };
      const result = await applySignature(app, together, { args: [value], options: parent, newId: (path) => derivedTaskId(request.id, `link/${path}`) });
      children.push(result.asTuple());
    }
  }
  const chain = signatures(request.embed.chain);
  if (chain.length) {
    const next = chain[chain.length - 1]!;
    const rest = chain.slice(0, -1);
    const result = await applySignature(app, next, {
      args: [value],
      options: { ...parent, ...(rest.length ? { chain: rest } : {}) },
      newId: (path) => derivedTaskId(request.id, `chain/${path}`),
    });
    children.push(result.asTuple());
  }
  return children;
}

/** After the SUCCESS record is stored: report to the chord this task is a header part of. */
export function afterSuccessRecorded(app: App, request: TaskRequest, value: unknown): Promise<void> {
  return chordPartReturn(app, memberOf(request), TaskState.SUCCESS, value);
}

function memberOf(request: TaskRequest) {
  return { id: request.id, group: request.group, groupIndex: request.groupIndex, chord: request.embed.chord, rootId: request.rootId };
}

/**
 * Marks every remaining chain step FAILURE with the error of the step that failed (so waiting on
 * the chain's last step fails instead of hanging; they are never sent), as Celery's
 * mark_as_failure does. The worker calls this BEFORE storing the failed step's own record:
 * whoever sees that record (Celery's get() on the last step checks its parents at each interval,
 * then reads the step's state) must find the later steps FAILURE already, not PENDING for the
 * moment between two writes.
 */
export async function markChainFailed(app: App, request: TaskRequest, error: unknown, traceback: string | null): Promise<void> {
  const elements = signatures(request.embed.chain);
  if (elements.length === 0) return;
  const backend = await app.backend();
  if (!backend) return;
  const info = exceptionInfo(error);
  for (const element of elements) {
    const step = fromSignatureDict(app, element);
    const stepId = typeof step.options['task_id'] === 'string' ? step.options['task_id'] : null;
    if (!stepId) continue;
    const record = encodeRecord({ status: TaskState.FAILURE, result: info, traceback, children: [], date_done: celeryDate(), task_id: stepId });
    await backend.store(stepId, record, { ttlMs: app.config.resultTtlMs });
  }
}

/**
 * What Celery's backend does after storing a FAILURE (mark_as_failure): reports to the chord,
 * reports chain steps that belong to a chord, then applies the errbacks with this task's id.
 * The remaining chain steps were marked FAILURE before the record (markChainFailed).
 */
export async function afterFailureRecorded(app: App, request: TaskRequest, error: unknown): Promise<void> {
  const info = exceptionInfo(error);
  await chordPartReturn(app, memberOf(request), TaskState.FAILURE, info);
  for (const element of signatures(request.embed.chain)) {
    const step = fromSignatureDict(app, element);
    const stepId = typeof step.options['task_id'] === 'string' ? step.options['task_id'] : null;
    if (stepId && step.options['chord']) {
      const group = typeof step.options['group_id'] === 'string' ? step.options['group_id'] : null;
      const groupIndex = typeof step.options['group_index'] === 'number' ? step.options['group_index'] : null;
      await chordPartReturn(app, { id: stepId, group, groupIndex, chord: step.options['chord'], rootId: request.rootId }, TaskState.FAILURE, info);
    }
  }
  await applyErrbacks(app, request.embed.errbacks, request.id, request.rootId ?? request.id);
}
