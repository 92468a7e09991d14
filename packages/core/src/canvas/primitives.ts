import type { App } from '../app.js';
import { Signature, fromSignatureDict, type SignatureDict, type SignatureOptions } from './signature.js';

type SignatureLike = Signature | SignatureDict;

function appOf(items: readonly SignatureLike[]): App | null {
  for (const item of items) if (item instanceof Signature && item.app) return item.app;
  return null;
}

function dictOf(item: SignatureLike): SignatureDict {
  return item instanceof Signature ? item.toJSON() : fromSignatureDict(null, item).toJSON();
}

/**
 * Steps run one after the other, each getting the previous result as its first argument
 * (Celery's chain, `celery.chain`). A group followed by a step becomes a chord on apply, as in
 * Celery. `.applyAsync()` resolves to the last step's AsyncResult; `.parent` walks back.
 */
export function chain<R = unknown>(...tasks: SignatureLike[]): Signature<R> {
  return new Signature<R>(appOf(tasks), 'celery.chain', [], { tasks: tasks.map(dictOf) }, {}, { subtaskType: 'chain' });
}

/** Tasks run in parallel (Celery's group, `celery.group`); `.applyAsync()` resolves to a GroupResult. */
export function group<R = unknown[]>(...tasks: (SignatureLike | readonly SignatureLike[])[]): Signature<R> {
  const flat = tasks.flatMap((t) => (Array.isArray(t) ? (t as SignatureLike[]) : [t as SignatureLike]));
  return new Signature<R>(appOf(flat), 'celery.group', [], { tasks: flat.map(dictOf) }, {}, { subtaskType: 'group' });
}

/**
 * A group (the header) whose results, in header order, are passed as one list to `body` once
 * every header task succeeded (Celery's chord). `.applyAsync()` resolves to the body's
 * AsyncResult, whose `.parent` is the header's GroupResult.
 */
export function chord<R = unknown>(header: Signature | readonly SignatureLike[], body: SignatureLike, options: SignatureOptions = {}): Signature<R> {
  const members: readonly SignatureLike[] = header instanceof Signature ? (header.subtaskType === 'group' ? ((header.kwargs['tasks'] as SignatureDict[]) ?? []) : [header]) : header;
  const app = appOf([...members, body, ...(header instanceof Signature ? [header] : [])]);
  return new Signature<R>(app, 'celery.chord', [], { kwargs: {}, header: members.map(dictOf), body: dictOf(body) }, options, { subtaskType: 'chord' });
}

/** `task` applied to each item of `it` inside one task (Celery's `celery.map` / task.map). */
export function map<R = unknown[]>(task: SignatureLike, it: readonly unknown[]): Signature<R> {
  const t = dictOf(task);
  return new Signature<R>(appOf([task]), 'celery.map', [], { task: t, it: [...it] }, {}, { subtaskType: 'xmap', immutable: true });
}

/** `task(*item)` for each item of `it` inside one task (Celery's `celery.starmap` / task.starmap). */
export function starmap<R = unknown[]>(task: SignatureLike, it: readonly (readonly unknown[])[]): Signature<R> {
  const t = dictOf(task);
  return new Signature<R>(appOf([task]), 'celery.starmap', [], { task: t, it: it.map((item) => [...item]) }, {}, { subtaskType: 'xstarmap', immutable: true });
}

/**
 * `it` split into parts of `n` items, each part one `celery.starmap` task, sent as a group
 * (Celery's chunks / task.chunks). `.applyAsync()` resolves to a GroupResult of lists.
 */
export function chunks<R = unknown[][]>(task: SignatureLike, it: readonly (readonly unknown[])[], n: number): Signature<R> {
  const t = dictOf(task);
  return new Signature<R>(appOf([task]), 'celery.chunks', [], { task: t, it: it.map((item) => [...item]), n }, {}, { subtaskType: 'chunks', immutable: true });
}
