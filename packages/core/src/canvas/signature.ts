import type { App } from '../app.js';
import { MessageDecodeError } from '../errors.js';
import type { AsyncResult } from '../result/async-result.js';
import type { GroupResult } from './group-result.js';
import { applySignature } from './apply.js';

/**
 * A signature as Celery serializes it (celery.canvas.Signature is a dict): what travels in
 * `embed.callbacks`/`errbacks`/`chain`/`chord`, in chord_unlock's args, and in canvas JSON files.
 * Celery 5.2 writes the six keys below; `chord_size` (later versions) is read and kept if present.
 */
export interface SignatureDict {
  readonly task: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly options: Readonly<Record<string, unknown>>;
  readonly subtask_type: string | null;
  readonly immutable: boolean;
  readonly chord_size?: number | null;
}

/**
 * Celery's apply_async options as they sit in `signature.options` (snake_case, Celery's names):
 * task_id, queue, countdown, eta, expires, priority, time_limit, soft_time_limit, link,
 * link_error, group_id, group_index, chord, chain, parent_id, root_id, reply_to, ignore_result,
 * shadow, headers.
 */
export type SignatureOptions = Record<string, unknown>;

/** What a signature is applied to: a task result, or a group's results. */
export type CanvasResult = AsyncResult | GroupResult;

/**
 * A task call that is not sent yet: name, partial arguments and options (Celery's Signature).
 * Applying prepends the arguments given then (a parent's result) unless the signature is
 * immutable (`.si()`). `.set()`, `.link()` and `.linkError()` change this signature in place and
 * return it, as Celery's do; `.clone()` makes an independent copy.
 */
export class Signature<R = unknown> {
  readonly app: App | null;
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  options: SignatureOptions;
  subtaskType: string | null;
  immutable: boolean;
  chordSize: number | null;
  /** Type only: the result type of the task, for typed `.get()`. */
  declare readonly __result?: R;

  constructor(app: App | null, task: string, args: readonly unknown[] = [], kwargs: Readonly<Record<string, unknown>> = {}, options: SignatureOptions = {}, extra: { subtaskType?: string | null; immutable?: boolean; chordSize?: number | null } = {}) {
    this.app = app;
    this.task = task;
    this.args = [...args];
    this.kwargs = { ...kwargs };
    this.options = { ...options };
    this.subtaskType = extra.subtaskType ?? null;
    this.immutable = extra.immutable ?? false;
    this.chordSize = extra.chordSize ?? null;
  }

  /** Celery's `.set(**options)`: merge options (queue, countdown, task_id, …) into this signature. */
  set(options: SignatureOptions): this {
    if ('immutable' in options) {
      this.immutable = Boolean(options['immutable']);
      const { immutable: _ignored, ...rest } = options;
      Object.assign(this.options, rest);
      return this;
    }
    Object.assign(this.options, options);
    return this;
  }

  /** Apply `callback` to this task's result on success (Celery's link). Returns `callback`. */
  link<S extends Signature>(callback: S): S {
    this.#appendOption('link', callback);
    return callback;
  }

  /** Apply `errback` with this task's id when it fails (Celery's link_error). Returns `errback`. */
  linkError<S extends Signature>(errback: S): S {
    this.#appendOption('link_error', errback);
    return errback;
  }

  #appendOption(name: 'link' | 'link_error', sig: Signature): void {
    const current = this.options[name];
    const list = Array.isArray(current) ? [...(current as unknown[])] : current ? [current] : [];
    list.push(sig.toJSON());
    this.options[name] = list;
  }

  /** A copy; `args` are prepended (unless immutable), `kwargs` and `options` merged. */
  clone(args: readonly unknown[] = [], kwargs: Readonly<Record<string, unknown>> = {}, options: SignatureOptions = {}): Signature<R> {
    const copy = fromSignatureDict<R>(this.app, structuredClone(this.toJSON()));
    if (args.length && !copy.immutable) copy.args = [...args, ...copy.args];
    Object.assign(copy.kwargs, kwargs);
    Object.assign(copy.options, options);
    return copy;
  }

  /** Celery's dict form, as sent on the wire. */
  toJSON(): SignatureDict {
    return {
      task: this.task,
      args: this.args,
      kwargs: this.kwargs,
      options: this.options,
      subtask_type: this.subtaskType,
      immutable: this.immutable,
      ...(this.chordSize !== null ? { chord_size: this.chordSize } : {}),
    };
  }

  /**
   * Send it: `args` are prepended to the signature's own (unless immutable), `kwargs` and
   * `options` (Celery's names) merged. Resolves to the AsyncResult of the task (for a chain, of
   * its last step, with `.parent` leading back to the first; for a chord, of its body) or a
   * GroupResult for a group.
   */
  applyAsync(args: readonly unknown[] = [], kwargs: Readonly<Record<string, unknown>> = {}, options: SignatureOptions = {}): Promise<CanvasResult> {
    return applySignature(this.#requireApp(), this, { args, kwargs, options });
  }

  /** applyAsync with positional arguments only. */
  delay(...args: unknown[]): Promise<CanvasResult> {
    return this.applyAsync(args);
  }

  #requireApp(): App {
    if (!this.app) throw new MessageDecodeError('signature', `the signature of ${this.task} has no app: build it with app.signature() or task.s()`);
    return this.app;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** True when `value` has the shape of Celery's signature dict (a `task` name at least). */
export function isSignatureDict(value: unknown): value is SignatureDict {
  return isRecord(value) && typeof value['task'] === 'string';
}

/**
 * A Signature (or its primitive subclass, by subtask_type) from Celery's dict form. Unknown
 * shapes fail with MessageDecodeError rather than being sent half-understood.
 */
export function fromSignatureDict<R = unknown>(app: App | null, value: unknown): Signature<R> {
  if (value instanceof Signature) return value as Signature<R>;
  if (!isSignatureDict(value)) throw new MessageDecodeError('signature', `not a Celery signature dict: ${JSON.stringify(value)?.slice(0, 200)}`);
  const args = value.args ?? [];
  const kwargs = value.kwargs ?? {};
  if (!Array.isArray(args) || !isRecord(kwargs) || (value.options !== undefined && value.options !== null && !isRecord(value.options))) {
    throw new MessageDecodeError('signature', `signature of ${value.task}: args must be a list, kwargs and options objects`);
  }
  const options = (value.options ?? {}) as SignatureOptions;
  const extra = { subtaskType: value.subtask_type ?? null, immutable: Boolean(value.immutable), chordSize: typeof value.chord_size === 'number' ? value.chord_size : null };
  return new Signature<R>(app, value.task, args, kwargs, options, extra);
}
