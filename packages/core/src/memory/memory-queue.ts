import type { BrokerMessage } from '../broker/broker.js';

export interface StoredMessage {
  readonly message: BrokerMessage;
  redelivered: boolean;
  /** When it was published (epoch ms): the age of the oldest message in queueStats. */
  readonly publishedAt?: number;
}

/** A FIFO with O(1) push, shift and unshift (a plain array's shift is O(n) on a long queue). */
class Deque<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  unshift(item: T): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
  }

  first(): T | undefined {
    return this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    // Compact once the consumed prefix dominates, keeping memory proportional to the size.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

/** One in-memory queue: a FIFO per priority level, higher priority first. */
export class MemoryQueue {
  readonly #levels = new Map<number, Deque<StoredMessage>>();
  #sortedLevels: number[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(stored: StoredMessage, priority: number, front = false): void {
    let level = this.#levels.get(priority);
    if (!level) {
      level = new Deque();
      this.#levels.set(priority, level);
      this.#sortedLevels = [...this.#levels.keys()].sort((a, b) => b - a);
    }
    if (front) level.unshift(stored);
    else level.push(stored);
    this.#size++;
  }

  shift(): StoredMessage | undefined {
    for (const priority of this.#sortedLevels) {
      const item = this.#levels.get(priority)!.shift();
      if (item) {
        this.#size--;
        return item;
      }
    }
    return undefined;
  }

  /** Publish time of the oldest message waiting, or null (empty, or nothing recorded). */
  oldestPublishedAt(): number | null {
    let oldest: number | null = null;
    for (const level of this.#levels.values()) {
      const at = level.first()?.publishedAt;
      if (at !== undefined && (oldest === null || at < oldest)) oldest = at;
    }
    return oldest;
  }

  clear(): number {
    const removed = this.#size;
    this.#levels.clear();
    this.#sortedLevels = [];
    this.#size = 0;
    return removed;
  }
}
