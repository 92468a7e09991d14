import type { BrokerMessage } from '../broker/broker.js';

export interface StoredMessage {
  readonly message: BrokerMessage;
  redelivered: boolean;
}

/** One in-memory queue: a FIFO per priority level, higher priority first. */
export class MemoryQueue {
  readonly #levels = new Map<number, StoredMessage[]>();
  #sortedLevels: number[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(stored: StoredMessage, priority: number, front = false): void {
    let level = this.#levels.get(priority);
    if (!level) {
      level = [];
      this.#levels.set(priority, level);
      this.#sortedLevels = [...this.#levels.keys()].sort((a, b) => b - a);
    }
    if (front) level.unshift(stored);
    else level.push(stored);
    this.#size++;
  }

  shift(): StoredMessage | undefined {
    for (const priority of this.#sortedLevels) {
      const level = this.#levels.get(priority)!;
      const item = level.shift();
      if (item) {
        this.#size--;
        return item;
      }
    }
    return undefined;
  }

  clear(): number {
    const removed = this.#size;
    this.#levels.clear();
    this.#sortedLevels = [];
    this.#size = 0;
    return removed;
  }
}
