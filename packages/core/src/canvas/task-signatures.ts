import type { App } from '../app.js';
import { chunks, map, starmap } from './primitives.js';
import { Signature, type SignatureOptions } from './signature.js';

/** The trailing arguments of A: what a mutable signature holds when the parent result comes first. */
export type TrailingArgs<A extends unknown[]> = A | (A extends [unknown, ...infer Rest] ? TrailingArgs<Rest> : never);

/** Signature builders on every registered task (Celery's task.s / .si / .map / .starmap / .chunks). */
export interface TaskSignatures<A extends unknown[], R> {
  /** A signature with partial arguments: a parent's result is prepended when applied. */
  s(...args: TrailingArgs<A>): Signature<R>;
  /** An immutable signature: applied with exactly these arguments, ignoring a parent's result. */
  si(...args: A): Signature<R>;
  /** A signature with arguments, keyword arguments and Celery-named options. */
  signature(args?: readonly unknown[], kwargs?: Record<string, unknown>, options?: SignatureOptions): Signature<R>;
  /** This task over each item, in one `celery.map` task. */
  map(it: readonly A[0][]): Signature<R[]>;
  /** This task over each argument list, in one `celery.starmap` task. */
  starmap(it: readonly A[]): Signature<R[]>;
  /** The argument lists split into parts of n, one `celery.starmap` task per part, as a group. */
  chunks(it: readonly A[], n: number): Signature<R[][]>;
}

export function taskSignatures<A extends unknown[], R>(app: App, name: string): TaskSignatures<A, R> {
  const signature = (args: readonly unknown[] = [], kwargs: Record<string, unknown> = {}, options: SignatureOptions = {}) => new Signature<R>(app, name, args, kwargs, options);
  return {
    s: (...args) => signature(args),
    si: (...args) => new Signature<R>(app, name, args, {}, {}, { immutable: true }),
    signature,
    map: (it) => map<R[]>(signature(), it),
    starmap: (it) => starmap<R[]>(signature(), it),
    chunks: (it, n) => chunks<R[][]>(signature(), it, n),
  };
}
