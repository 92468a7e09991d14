import type { RuntimeBackend } from '../backend/runtime-backend.js';
import type { ResultBackend } from '../backend/result-backend.js';
import { MessageDecodeError, UnsupportedError } from '../errors.js';
import { AsyncResult, type GetOptions } from '../result/async-result.js';

import { jsonSerializer } from '../serializer/json.js';

type BackendSource = () => Promise<ResultBackend | RuntimeBackend | null>;

/** Celery's result tuple: ((id, parent tuple | null), null) for a task, ((id, parent), [members]) for a group. */
export type ResultTuple = [[string, ResultTuple | null], ResultTuple[] | null];

/**
 * The results of a group (Celery's GroupResult): one AsyncResult per member, in group order.
 * `save()` stores it as Celery does (`celery-taskset-meta-<id>` = {"result": tuple}), so
 * Python's GroupResult.restore(id) reads what tq saved and the other way round.
 */
export class GroupResult<R = unknown> {
  readonly id: string;
  readonly results: (AsyncResult | GroupResult)[];
  parent: AsyncResult | GroupResult | null = null;
  readonly #backend: BackendSource;

  constructor(id: string, results: (AsyncResult | GroupResult)[], backend: BackendSource) {
    this.id = id;
    this.results = results;
    this.#backend = backend;
  }

  /** Every member's result, in group order; rejects with the first failure (Celery's join). */
  async get(options: GetOptions = {}): Promise<R[]> {
    const values: unknown[] = [];
    for (const result of this.results) values.push(await result.get(options));
    return values as R[];
  }

  /** True when every member is in a ready state (SUCCESS, FAILURE, REVOKED). */
  async ready(): Promise<boolean> {
    for (const result of this.results) if (!(await result.ready())) return false;
    return true;
  }

  /** How many members succeeded. */
  async completedCount(): Promise<number> {
    let count = 0;
    for (const result of this.results) if (await result.successful()) count++;
    return count;
  }

  async successful(): Promise<boolean> {
    for (const result of this.results) if (!(await result.successful())) return false;
    return true;
  }

  async failed(): Promise<boolean> {
    for (const result of this.results) if (await result.failed()) return true;
    return false;
  }

  /** Celery's as_tuple(), as stored in `children` and by save(). */
  asTuple(): ResultTuple {
    return [[this.id, this.parent ? this.parent.asTuple() : null], this.results.map((r) => r.asTuple())];
  }

  /** Stores the group (Celery's GroupResult.save()); needs a backend with group records (redis, memory). */
  async save(): Promise<void> {
    const backend = innerOf(await this.#requireBackend());
    if (!backend.saveGroup) throw new UnsupportedError('this result backend cannot store group results (save/restore): use redis:// or memory://');
    await backend.saveGroup(this.id, jsonSerializer.encode({ result: this.asTuple() }), {});
  }

  /** Deletes the stored group record. */
  async forget(): Promise<void> {
    const backend = innerOf(await this.#requireBackend());
    await backend.forgetGroup?.(this.id);
  }

  async #requireBackend(): Promise<ResultBackend> {
    const backend = await this.#backend();
    if (!backend) throw new UnsupportedError('no result backend is configured');
    return backend;
  }

  /** A group saved by tq or Celery, or null when none is stored under `id`. */
  static async restore(id: string, backend: BackendSource): Promise<GroupResult | null> {
    const source = await backend();
    if (!source) throw new UnsupportedError('no result backend is configured');
    const inner = innerOf(source);
    if (!inner.fetchGroup) throw new UnsupportedError('this result backend cannot store group results (save/restore): use redis:// or memory://');
    const bytes = await inner.fetchGroup(id);
    if (!bytes) return null;
    const meta = jsonSerializer.decode(bytes) as { result?: unknown } | null;
    const restored = resultFromTuple(meta?.result, backend);
    if (!(restored instanceof GroupResult)) throw new MessageDecodeError('result', `celery-taskset-meta-${id} does not hold a group`);
    return restored;
  }
}

function innerOf(backend: ResultBackend | RuntimeBackend): ResultBackend {
  return 'inner' in backend ? (backend as RuntimeBackend).inner : backend;
}

/** Celery's result_from_tuple: a task or group result (with parents) from its tuple form. */
export function resultFromTuple(value: unknown, backend: BackendSource): AsyncResult | GroupResult {
  if (!Array.isArray(value) || !Array.isArray(value[0]) || typeof value[0][0] !== 'string') {
    throw new MessageDecodeError('result', `not a Celery result tuple: ${JSON.stringify(value)?.slice(0, 200)}`);
  }
  const [[id, parentTuple], nodes] = value as [[string, unknown], unknown];
  const parent = parentTuple ? resultFromTuple(parentTuple, backend) : null;
  if (Array.isArray(nodes)) {
    const group = new GroupResult(id, nodes.map((node) => resultFromTuple(node, backend)), backend);
    group.parent = parent;
    return group;
  }
  const result = new AsyncResult(id, backend);
  result.parent = parent;
  return result;
}

