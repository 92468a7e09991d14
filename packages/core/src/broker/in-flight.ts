/**
 * Collections for what passes through a worker, one entry added and removed per task (the
 * deliveries in a prefetch window, the tasks running, the leases kept), built so that removed
 * entries leave nothing behind for the garbage collector to keep.
 *
 * Why not Map and Set: V8 backs them with ordered hash tables, and a table that is rebuilt (it
 * grows, shrinks, or fills with removed entries, which with one add and one delete per task is
 * every few tasks) keeps its entries and a link to the table that replaced it. Once one table of
 * that chain has been moved to the old space, it holds every later table, and every delivery they
 * ever held, through each scavenge until the next full collection: each task's objects were
 * promoted to the old space, which V8 then let grow to 44-66 MB on a drain at c=100
 * (docs/benchmarks.md, "Where the extra memory is"). Here a key finds its entry through a
 * property of its own (a symbol per collection; keys that cannot take one use a WeakMap, whose
 * tables are not chained and hold keys weakly) and a doubly linked list keeps the order; a
 * removed node is emptied and unlinked.
 */

interface Node<K, V> {
  key: K | undefined;
  value: V | undefined;
  previous: Node<K, V> | undefined;
  next: Node<K, V> | undefined;
}

/** A Map for object keys, in insertion order: set, get, has, delete, size, keys(), values(), entries(). */
export class InFlightMap<K extends object, V> {
  /** A key's node sits in a property of the key under this symbol: a WeakMap for every key cost ~1.4 µs a task at c=100 (4 sets a delivery). */
  readonly #slot = Symbol('in-flight node');
  /** Keys that cannot take a property (frozen, sealed) find their node here instead. */
  readonly #fixedKeys = new WeakMap<K, Node<K, V>>();
  #first: Node<K, V> | undefined;
  #last: Node<K, V> | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  #nodeOf(key: K): Node<K, V> | undefined {
    const node = (key as Record<symbol, Node<K, V> | undefined>)[this.#slot];
    // A removed node is emptied: a property left on a key frozen since then points at nothing.
    if (node?.key === key) return node;
    return Object.isExtensible(key) ? undefined : this.#fixedKeys.get(key);
  }

  /** Points `key` at `node`, or at nothing (the property stays, emptied: deleting it would slow the key's object down). */
  #link(key: K, node: Node<K, V> | undefined): void {
    if (Object.isExtensible(key)) {
      (key as Record<symbol, Node<K, V> | undefined>)[this.#slot] = node;
      return;
    }
    // Frozen or sealed, perhaps since it was added (its property, if it has one, is left as it is).
    if (node) this.#fixedKeys.set(key, node);
    else this.#fixedKeys.delete(key);
  }

  set(key: K, value: V): this {
    const known = this.#nodeOf(key);
    if (known) {
      known.value = value;
      return this;
    }
    const node: Node<K, V> = { key, value, previous: this.#last, next: undefined };
    if (this.#last) this.#last.next = node;
    else this.#first = node;
    this.#last = node;
    this.#link(key, node);
    this.#size++;
    return this;
  }

  get(key: K): V | undefined {
    return this.#nodeOf(key)?.value;
  }

  has(key: K): boolean {
    return this.#nodeOf(key) !== undefined;
  }

  delete(key: K): boolean {
    const node = this.#nodeOf(key);
    if (!node) return false;
    this.#link(key, undefined);
    if (node.previous) node.previous.next = node.next;
    else this.#first = node.next;
    if (node.next) node.next.previous = node.previous;
    else this.#last = node.previous;
    node.key = node.value = node.previous = node.next = undefined;
    this.#size--;
    return true;
  }

  clear(): void {
    for (const key of [...this.keys()]) this.delete(key);
  }

  *entries(): IterableIterator<[K, V]> {
    // The next node is read before yielding: the caller may delete the entry it was given.
    for (let node = this.#first; node; ) {
      const next = node.next;
      yield [node.key as K, node.value as V];
      node = next;
    }
  }

  *keys(): IterableIterator<K> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): IterableIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }
}

/** A Set of objects, in insertion order: add, has, delete, size, iteration. */
export class InFlightSet<T extends object> {
  readonly #map = new InFlightMap<T, true>();

  get size(): number {
    return this.#map.size;
  }

  add(value: T): this {
    this.#map.set(value, true);
    return this;
  }

  has(value: T): boolean {
    return this.#map.has(value);
  }

  delete(value: T): boolean {
    return this.#map.delete(value);
  }

  clear(): void {
    this.#map.clear();
  }

  values(): IterableIterator<T> {
    return this.#map.keys();
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this.#map.keys();
  }
}

/**
 * A map keyed by task id (a string), for per-task state: a dictionary object without a
 * prototype, whose table V8 rebuilds without linking the old one to the new (see above).
 */
export class TaskIdMap<V> {
  #entries: Record<string, V> = Object.create(null) as Record<string, V>;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(id: string): V | undefined {
    return this.#entries[id];
  }

  has(id: string): boolean {
    return id in this.#entries;
  }

  set(id: string, value: V): this {
    if (!(id in this.#entries)) this.#size++;
    this.#entries[id] = value;
    return this;
  }

  delete(id: string): boolean {
    if (!(id in this.#entries)) return false;
    delete this.#entries[id];
    // An empty table starts afresh: a dictionary only shrinks at some deletes.
    if (--this.#size === 0) this.#entries = Object.create(null) as Record<string, V>;
    return true;
  }
}
