import type { App } from '../app.js';
import { TaskError, UnknownTaskError } from '../errors.js';
import { exceptionInfo } from '../result/record.js';
import { Retry } from '../task-signals.js';
import type { TaskContext } from '../task.js';
import { applySignature } from './apply.js';
import { ChordError, chordErrorFromStack } from './chord.js';
import { derivedTaskId } from './derived-id.js';
import { GroupResult, resultFromTuple } from './group-result.js';
import { exceptionInfoRepr } from './python-repr.js';
import { chord as chordOf } from './primitives.js';
import { fromSignatureDict, isSignatureDict, Signature } from './signature.js';

/** Celery's result_chord_retry_interval default: chord_unlock polls every second. */
const chordRetryIntervalSeconds = 1;

type Kwargs = Record<string, unknown>;

/** Celery passes builtins' parameters by keyword (map/starmap/chunks) or by position (chord_unlock): read either. */
function params(args: unknown[], names: readonly string[]): Kwargs {
  const last = args[args.length - 1];
  const kwargs = last && typeof last === 'object' && !Array.isArray(last) && !isSignatureDict(last) ? (args.pop() as Kwargs) : {};
  const out: Kwargs = { ...kwargs };
  names.forEach((name, i) => {
    if (i < args.length) out[name] = args[i];
  });
  return out;
}

/** Runs a registered task's function in this task (Celery's `task(item)` inside celery.map). */
function runLocally(app: App, ctx: TaskContext, task: unknown, args: unknown[]): unknown {
  const name = isSignatureDict(task) ? task.task : String(task);
  const definition = app.tasks.get(name);
  if (!definition) throw new UnknownTaskError(name, [...app.tasks.keys()]);
  return (definition.fn as (...a: unknown[]) => unknown).apply(ctx, args);
}

/**
 * The built-in tasks Python Celery 5.2 sends (celery/app/builtins.py), so a canvas built in
 * Python runs on tq workers: celery.chord_unlock (the chord fallback), celery.map,
 * celery.starmap, celery.chunks, celery.group, celery.chord, celery.chain (which, as in Celery,
 * only fails: "chain is not a real task") and celery.accumulate. Registered on every app;
 * `inspect registered` leaves them out, as Celery does.
 */
export function registerCanvasBuiltins(app: App): void {
  if (app.tasks.has('celery.chord_unlock')) return;

  app.task(
    'celery.chord_unlock',
    async function (this: TaskContext, ...raw: unknown[]) {
      const p = params(raw, ['group_id', 'callback', 'interval', 'max_retries', 'result']);
      const groupId = String(p['group_id']);
      const callback = fromSignatureDict(app, p['callback']);
      const interval = typeof p['interval'] === 'number' ? p['interval'] : chordRetryIntervalSeconds;
      const maxRetries = typeof p['max_retries'] === 'number' ? p['max_retries'] : null;
      const tuples = Array.isArray(p['result']) ? p['result'] : [];
      const deps = new GroupResult(groupId, tuples.map((t) => resultFromTuple(t, () => app.backend())), () => app.backend());
      if (!(await deps.ready())) {
        if (maxRetries !== null && this.retries >= maxRetries) throw new ChordError(`chord ${groupId} not ready after ${maxRetries} retries`);
        throw new Retry(interval);
      }
      const rootId = this.request.rootId ?? this.id;
      let values: unknown[];
      try {
        values = await deps.get();
      } catch (error) {
        const culprit = error instanceof TaskError ? error.taskId : null;
        const reason = culprit ? `Dependency ${culprit} raised ${exceptionInfoRepr({ exc_type: (error as TaskError).excType, exc_message: [(error as TaskError).excMessage] })}` : String(error);
        await chordErrorFromStack(app, callback, new ChordError(reason, culprit), rootId);
        return null;
      }
      try {
        await applySignature(app, callback, { args: [values], options: { parent_id: this.id, root_id: rootId }, newId: (path) => derivedTaskId(this.id, `chord-body/${path}`) });
      } catch (error) {
        await chordErrorFromStack(app, callback, new ChordError(`Callback error: ${exceptionInfoRepr(exceptionInfo(error))}`), rootId);
      }
      return null;
    },
    { ignoreResult: true, maxRetries: Number.MAX_SAFE_INTEGER },
  );

  app.task('celery.map', async function (this: TaskContext, ...raw: unknown[]) {
    const p = params(raw, ['task', 'it']);
    const out: unknown[] = [];
    for (const item of (p['it'] as unknown[]) ?? []) out.push(await runLocally(app, this, p['task'], [item]));
    return out;
  });

  app.task('celery.starmap', async function (this: TaskContext, ...raw: unknown[]) {
    const p = params(raw, ['task', 'it']);
    const out: unknown[] = [];
    for (const item of (p['it'] as unknown[][]) ?? []) out.push(await runLocally(app, this, p['task'], [...item]));
    return out;
  });

  app.task('celery.chunks', async function (this: TaskContext, ...raw: unknown[]) {
    const p = params(raw, ['task', 'it', 'n']);
    const sig = new Signature(app, 'celery.chunks', [], { task: p['task'], it: p['it'], n: p['n'] }, {}, { subtaskType: 'chunks', immutable: true });
    const result = await applySignature(app, sig, { options: { parent_id: this.id, root_id: this.request.rootId ?? this.id }, newId: (path) => derivedTaskId(this.id, `chunks/${path}`) });
    return result.asTuple();
  });

  app.task('celery.group', async function (this: TaskContext, ...raw: unknown[]) {
    const p = params(raw, ['tasks', 'result', 'group_id', 'partial_args', 'add_to_parent']);
    const partial = Array.isArray(p['partial_args']) ? p['partial_args'] : [];
    const groupId = typeof p['group_id'] === 'string' ? p['group_id'] : derivedTaskId(this.id, 'group');
    const tasks = Array.isArray(p['tasks']) ? p['tasks'] : [];
    await Promise.all(
      tasks.map((task, i) => applySignature(app, task as never, { args: partial, options: { group_id: groupId }, newId: (path) => derivedTaskId(this.id, `group/${i}/${path}`) })),
    );
    return p['result'] ?? null;
  });

  app.task('celery.chord', async function (this: TaskContext, ...raw: unknown[]) {
    const p = params(raw, ['header', 'body', 'partial_args', 'interval', 'countdown', 'max_retries', 'eager']);
    const header = Array.isArray(p['header']) ? p['header'] : isSignatureDict(p['header']) ? fromSignatureDict(app, p['header']) : [];
    const sig = chordOf(header as never, p['body'] as never);
    const result = await applySignature(app, sig, { args: Array.isArray(p['partial_args']) ? p['partial_args'] : [], newId: (path) => derivedTaskId(this.id, `chord/${path}`) });
    return result.id;
  });

  app.task('celery.chain', () => {
    const error = new Error('chain is not a real task');
    error.name = 'NotImplementedError';
    throw error;
  });

  app.task('celery.accumulate', (...raw: unknown[]) => {
    const p = params(raw, []);
    const index = p['index'];
    const args = raw;
    return typeof index === 'number' ? args[index] : args;
  });
}
