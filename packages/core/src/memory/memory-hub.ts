import { setLongTimeout, type LongTimeout } from '../adapters/timers.js';
import type { DeliveryBuffer } from '../broker/delivery-buffer.js';
import { MemoryQueue, type StoredMessage } from './memory-queue.js';

/** A consumer's side of the hub: the broker instance that owns it pulls for it. */
export interface HubConsumer {
  readonly queue: string;
  /** Deliveries it holds unacked. */
  readonly unacked: number;
  /** Can take a message now (active, under its prefetch). */
  hasRoom(): boolean;
  /** Offer a message; false when the consumer has no capacity (prefetch reached) or is gone. */
  offer(stored: StoredMessage): boolean;
}

/** A message held until `notBefore`, and the timer that moves it to its queue then. */
export interface DelayedEntry {
  readonly stored: StoredMessage;
  readonly notBefore: number;
  readonly timer: LongTimeout;
}

/**
 * The shared state behind every MemoryBroker opened on the same memory://name: queues,
 * delayed messages, consumers and broadcast subscribers. Process-local by design.
 */
export class MemoryHub {
  readonly #queues = new Map<string, MemoryQueue>();
  readonly #consumers = new Map<string, HubConsumer[]>();
  readonly #cursor = new Map<string, number>();
  /** Broadcast subscribers per channel, each with its topic pattern ('#' on fanout channels). */
  readonly subscribers = new Map<string, Set<{ readonly pattern: string; readonly buffer: DeliveryBuffer<Uint8Array> }>>();
  /** Messages held for a later delivery time, per queue, each with the timer that releases it. */
  readonly #delayed = new Map<string, Set<DelayedEntry>>();
  /** Deduplication ids published lately, with the time each one's window ends. */
  readonly #published = new Map<string, number>();

  /** True the first time `id` is seen within `windowMs` (the publish goes ahead), false for a repeat. */
  firstPublish(id: string, windowMs: number): boolean {
    const now = Date.now();
    const until = this.#published.get(id);
    if (until !== undefined && until > now) return false;
    // Forget expired ids as new ones arrive; Map keeps insertion order, so the oldest go first.
    for (const [old, end] of this.#published) {
      if (end > now) break;
      this.#published.delete(old);
    }
    this.#published.delete(id);
    this.#published.set(id, now + windowMs);
    return true;
  }

  /** Messages of `name` waiting for their delivery time. */
  delayedCount(name: string): number {
    return this.#delayed.get(name)?.size ?? 0;
  }

  /** The soonest `limit` messages of `name` waiting for their delivery time, soonest first. */
  delayed(name: string, limit: number): DelayedEntry[] {
    return [...(this.#delayed.get(name) ?? [])].sort((a, b) => a.notBefore - b.notBefore).slice(0, limit);
  }

  /** Drops every message of `name` waiting for its delivery time; returns how many. */
  clearDelayed(name: string): number {
    const entries = this.#delayed.get(name);
    if (!entries) return 0;
    this.#delayed.delete(name);
    for (const entry of entries) entry.timer.clear();
    return entries.size;
  }

  /** Publish time of the oldest ready message of `name`, or null. */
  oldestPublishedAt(name: string): number | null {
    return this.#queues.get(name)?.oldestPublishedAt() ?? null;
  }

  /** Ready messages in `name`, without creating the queue (counting is a read). */
  size(name: string): number {
    return this.#queues.get(name)?.size ?? 0;
  }

  queue(name: string): MemoryQueue {
    let queue = this.#queues.get(name);
    if (!queue) {
      queue = new MemoryQueue();
      this.#queues.set(name, queue);
    }
    return queue;
  }

  enqueue(name: string, stored: StoredMessage, options: { front?: boolean } = {}): void {
    this.queue(name).push(stored, stored.message.properties.priority ?? 0, options.front);
    this.dispatch(name);
  }

  enqueueAt(name: string, stored: StoredMessage, notBefore: number): void {
    const entries = this.#delayed.get(name) ?? new Set<DelayedEntry>();
    this.#delayed.set(name, entries);
    const entry: DelayedEntry = {
      stored,
      notBefore,
      timer: setLongTimeout(
        () => {
          entries.delete(entry);
          if (entries.size === 0 && this.#delayed.get(name) === entries) this.#delayed.delete(name);
          this.enqueue(name, stored);
        },
        notBefore - Date.now(),
        { unref: true },
      ),
    };
    entries.add(entry);
  }

  addConsumer(consumer: HubConsumer): void {
    const list = this.#consumers.get(consumer.queue) ?? [];
    list.push(consumer);
    this.#consumers.set(consumer.queue, list);
    this.dispatch(consumer.queue);
  }

  removeConsumer(consumer: HubConsumer): void {
    const list = this.#consumers.get(consumer.queue);
    if (!list) return;
    const index = list.indexOf(consumer);
    if (index >= 0) list.splice(index, 1);
  }

  /** The consumers of `name`, now. */
  consumersOf(name: string): readonly HubConsumer[] {
    return this.#consumers.get(name) ?? [];
  }

  /** Hands ready messages to consumers with capacity, round-robin. */
  dispatch(name: string): void {
    const queue = this.#queues.get(name);
    const consumers = this.#consumers.get(name);
    if (!queue || !consumers || consumers.length === 0) return;
    let cursor = this.#cursor.get(name) ?? 0;
    let refusals = 0;
    while (queue.size > 0 && refusals < consumers.length) {
      const consumer = consumers[cursor % consumers.length]!;
      cursor = (cursor + 1) % consumers.length;
      if (!consumer.hasRoom()) {
        refusals++;
        continue;
      }
      const stored = queue.shift()!;
      if (consumer.offer(stored)) {
        refusals = 0;
      } else {
        queue.push(stored, stored.message.properties.priority ?? 0, true);
        refusals++;
      }
    }
    this.#cursor.set(name, cursor);
  }
}
