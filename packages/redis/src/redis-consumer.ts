import { randomUUID } from 'node:crypto';
import { InFlightSet, type Delivery } from '@tq/core/adapter';
import { BLOCK_SECONDS, closeConnection, openConnection, type Redis } from './connection.js';
import { decodeEnvelope, type DecodedEnvelope } from './envelope.js';
import { toTqError, type ErrorContext } from './errors.js';
import { RedisKeys } from './keys.js';
import type { RedisOptions } from './options.js';
import { RedisDelivery, type SettleHooks } from './redis-delivery.js';
import { UnackedStore } from './unacked-store.js';

/** Most messages taken in one atomic pop; bounded by the free prefetch room too. */
const MAX_BATCH = 100;

/**
 * How long an ack waits for a take to ride on before it goes alone. Takes come every few tasks
 * while a queue drains (at concurrency 1 every ~0.2 ms here), so acks rarely wait this long.
 */
const ACK_WAIT_MS = 5;
/**
 * Acks ride on takes only in windows this small (concurrency 1 or 2 at the default multiplier).
 * In larger ones many acks share each command already, and in A/B drains riding cost more than
 * it saved: +7–14 % at concurrency 1, but −5–15 % at 100, even with the acks riding rarely
 * (3–10 µs of CPU a task: acked tasks' objects live longer, and each ack takes an extra turn).
 */
const RIDING_WINDOW = 8;

interface PendingAck {
  readonly tag: string;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export interface RedisConsumerDeps {
  readonly options: RedisOptions;
  readonly keys: RedisKeys;
  readonly store: UnackedStore;
  /** The broker's command connection (declares, CLIENT UNBLOCK, pushing a message back). */
  readonly commands: Redis;
  readonly context: ErrorContext;
  readonly deadLetterSuffix: string;
  /** Every unsettled delivery of the broker, kept past the end of its consumer's iteration. */
  readonly outstanding: InFlightSet<RedisDelivery>;
  /** True once the broker is closing: failed settles are not retried any more. */
  readonly closing: () => boolean;
}

/**
 * One consumer of one queue, holding at most `prefetch` unacked deliveries. While messages
 * wait it takes them in batches with one script that pops and records them as unacked
 * atomically; when the queue is empty it blocks on its own connection in a BLMOVE that rotates
 * the main list onto itself (it waits like kombu's BRPOP but takes nothing, so unlike kombu there
 * is no moment when a message exists only in this process). Aborting ends the wait with
 * CLIENT UNBLOCK.
 */
export class RedisConsumer {
  readonly queue: string;
  readonly #deps: RedisConsumerDeps;
  #prefetch: number;
  readonly #signal: AbortSignal;
  readonly #unacked = new InFlightSet<RedisDelivery>();
  #connection: Redis | undefined;
  #clientId: number | undefined;
  /** The command in flight on this consumer's connection (a batch take or the blocking wait). */
  #pop: Promise<unknown> | undefined;
  /** True while that command is the blocking wait, which only CLIENT UNBLOCK ends early. */
  #blocked = false;
  #stopped = false;
  /**
   * Ends the loop's current wait on the server (stop() calls it). After an outage, ioredis may
   * keep a command queued for a reconnect that disconnect() cancelled, and that command's promise
   * then never settles (a worker did not exit on SIGTERM). One slot: the loop waits on one thing
   * at a time. (Not a race against one long-lived "stopping" promise: each race would leave a
   * reaction on it until the end, measured as ~150 bytes a task promoted to the old space.)
   */
  #endWait: () => void = () => undefined;
  #wakeSlotWaiter: (() => void) | undefined;
  #refill: ((minRoom: number) => void) | undefined;
  /**
   * Acks waiting to ride on the next take, one command and one socket write instead of two (a
   * write to a loopback socket costs tens of µs: at c=1 that was a tenth of a task's CPU). Acks
   * never make a take happen: takes keep their size. A take started in the same moment (a settle
   * freeing half the window starts one) carries them; otherwise they wait for the next take, at
   * most ACK_WAIT_MS. However many wait (at most about a window's worth): a command of their
   * own is a write of its own, and at concurrency 1 the result stores return several acks at
   * once (sending 4 or more alone, as before 2026-12-05, cost ~6 µs a task).
   */
  readonly #acks: PendingAck[] = [];
  #ackTimer: NodeJS.Timeout | undefined;
  #placingAcks = false;
  /** False once no take is coming soon (the queue ran empty, or the consumer stopped). */
  #takesComing: () => boolean = () => false;
  #returnUnread: (() => Promise<void>) | undefined;

  constructor(queue: string, prefetch: number, signal: AbortSignal, deps: RedisConsumerDeps) {
    this.queue = queue;
    this.#prefetch = Math.max(1, Math.floor(prefetch));
    this.#signal = signal;
    this.#deps = deps;
  }

  /** `promise`, or undefined as soon as stop() is called, whichever comes first. */
  #untilStopped<T>(promise: Promise<T>): Promise<T | undefined> {
    if (this.#stopped) return Promise.resolve(undefined);
    return new Promise<T | undefined>((resolve, reject) => {
      this.#endWait = () => resolve(undefined);
      promise.then(resolve, reject);
    });
  }

  async *deliveries(onEnd: () => void): AsyncGenerator<Delivery> {
    const { options, keys, store, commands, context, deadLetterSuffix } = this.#deps;
    const onAbort = () => void this.stop();
    this.#signal.addEventListener('abort', onAbort, { once: true });
    try {
      if (this.#signal.aborted) return;
      const connection = await openConnection(options, 'blocking', `tq:consumer:${this.queue}`, context, this.#signal);
      this.#connection = connection;
      connection.on('close', () => (this.#clientId = undefined));
      // Declare the queue as kombu's worker does, so Python tools see the binding.
      await commands.sadd(keys.binding(this.queue), RedisKeys.bindingMember(this.queue, '', this.queue));
      const lists = options.prioritySteps.map((step) => keys.queue(this.queue, step));
      // Taking messages runs on this consumer's own connection, which waits out an outage
      // (ioredis reconnects and resends) instead of failing the stream; settling uses the broker's.
      const taker = new UnackedStore(connection, keys, options.prioritySteps, options.visibilityTimeoutMs);
      const deadLetterQueue = `${this.queue}${deadLetterSuffix}`;
      // Popped and recorded as unacked, not yet read: counted against prefetch, returned on stop.
      const unread: RedisDelivery[] = [];
      // Synchronous for a good envelope (no await per message); a promise while a bad one is moved aside.
      const accept = (raw: string, tag: string): Promise<unknown> | undefined => {
        let decoded: DecodedEnvelope;
        try {
          decoded = decodeEnvelope(raw);
        } catch (error) {
          // Not a kombu envelope: keep it for inspection rather than looping on it or dropping it.
          options.logger?.warn(`redis: a message on ${this.queue} is not a kombu envelope (${(error as Error).message}); moved to ${deadLetterQueue}`);
          return taker.deadLetter(tag, raw, deadLetterQueue);
        }
        const delivery = new RedisDelivery(decoded, tag, this.queue, deadLetterQueue, store, context, this.#hooks, options.visibilityTimeoutMs);
        this.#unacked.add(delivery);
        this.#deps.outstanding.add(delivery);
        unread.push(delivery);
        return undefined;
      };
      // Chained, so a second caller (abort, then the iteration's end) waits for the first one's work.
      let returning = Promise.resolve();
      this.#returnUnread = () =>
        (returning = returning.then(async () => {
          // Back to the front in reverse, so the queue keeps its order.
          for (const delivery of unread.splice(0).reverse()) await delivery.settle('restore').catch(() => undefined);
        }));

      // Takes a batch atomically (pop + unacked record in one script). A fresh tag per delivery:
      // a restored message keeps kombu's old tag, and a late ack from its previous (presumed
      // dead) owner must not erase the new owner's unacked record. Tags are this consumer's
      // random prefix and a counter. Resolves to how many it took.
      let tagPrefix = `${randomUUID()}.`;
      let nextTag = 0;
      let taking: Promise<number> | undefined;
      const take = (room: number): Promise<number> => {
        const wanted = Math.min(room, MAX_BATCH);
        if (nextTag > 1e12) [tagPrefix, nextTag] = [`${randomUUID()}.`, 0]; // keeps tags short integers
        const [prefix, first] = [tagPrefix, nextTag];
        nextTag += wanted;
        const acks = this.#acks.splice(0);
        this.#clearAckTimer();
        const popped = taker.popAndRecord(
          this.queue,
          lists,
          prefix,
          first,
          wanted,
          acks.map((ack) => ack.tag),
        );
        if (acks.length > 0) this.#carry(acks, popped);
        taking = popped
          .then(async (batch) => {
            for (const [i, [, raw]] of batch.entries()) {
              const rejected = accept(raw, `${prefix}${first + i}`);
              if (rejected) await rejected;
            }
            queueEmpty = batch.length === 0;
            return batch.length;
          })
          .finally(() => {
            taking = undefined;
            if (this.#pop === pending) this.#pop = undefined;
          });
        const pending = taking;
        this.#pop = pending;
        return pending;
      };
      let queueEmpty = false;
      // Take the next batch while the reader still works through this one, so it never waits
      // a round trip between batches. Also runs when an ack frees room (see #hooks): the window
      // refills while every reader is busy, not only when one asks for the next delivery.
      const refill = (minRoom = 1) => {
        const room = this.#prefetch - this.#unacked.size;
        if (!taking && !queueEmpty && !this.#stopped && room >= minRoom && unread.length <= room) void take(room).catch(() => undefined);
      };
      this.#refill = refill;
      this.#takesComing = () => !queueEmpty && !this.#stopped;
      while (!this.#stopped) {
        const room = this.#prefetch - this.#unacked.size;
        refill();
        const next = unread.shift();
        if (next) {
          yield next;
          continue;
        }
        if (taking) {
          await this.#untilStopped(taking);
          continue;
        }
        if (room <= 0) {
          await new Promise<void>((resolve) => (this.#wakeSlotWaiter = resolve));
          continue;
        }
        if (!queueEmpty) {
          await this.#untilStopped(take(room));
          continue;
        }
        // Nothing waiting: block until the main list has a message (no polling), then loop to
        // the atomic take. BLMOVE from a list to the same end of itself is a no-op rotation: it
        // waits like BRPOP but removes nothing, so no message is ever only in this process's
        // memory. Other priority lists are checked by the take at least every BLOCK_SECONDS.
        const waiting = this.#waitForMessage(connection, lists[0]!);
        this.#pop = waiting;
        this.#blocked = true;
        await this.#untilStopped(waiting).finally(() => (this.#blocked = false));
        this.#pop = undefined;
        queueEmpty = false;
      }
    } catch (error) {
      if (!this.#stopped) throw toTqError(error, context);
    } finally {
      this.#signal.removeEventListener('abort', onAbort);
      this.#stopped = true;
      await this.#returnUnread?.();
      if (this.#connection) await closeConnection(this.#connection, this.#deps.options.socketTimeoutMs);
      onEnd();
    }
  }

  /** Widens or narrows the window of unacked deliveries (core widens it for held ETA tasks). */
  setPrefetch(prefetch: number): void {
    this.#prefetch = Math.max(1, Math.floor(prefetch));
    const wake = this.#wakeSlotWaiter;
    this.#wakeSlotWaiter = undefined;
    wake?.();
  }

  readonly #hooks: SettleHooks = {
    leavingWindow: (delivery) => {
      if (!this.#unacked.delete(delivery)) return;
      // From a settle, only once half the window is free: a take per ack would cost more commands than it saves waiting.
      this.#refill?.(Math.ceil(this.#prefetch / 2));
      const wake = this.#wakeSlotWaiter;
      this.#wakeSlotWaiter = undefined;
      wake?.();
    },
    ack: (tag) => {
      if (this.#prefetch > RIDING_WINDOW || !this.#takesComing()) return this.#deps.store.ack(tag);
      return new Promise<void>((resolve, reject) => {
        this.#acks.push({ tag, resolve, reject });
        if (this.#placingAcks) return;
        this.#placingAcks = true;
        setImmediate(() => this.#placeAcks());
      });
    },
    settled: (delivery) => void this.#deps.outstanding.delete(delivery),
    retrying: () => !this.#deps.closing(),
  };

  /** At the end of a moment: the acks no take carried wait for the next one, if one is coming. */
  #placeAcks(): void {
    this.#placingAcks = false;
    if (this.#acks.length === 0) return;
    if (!this.#takesComing()) return this.#sendPendingAcksAlone();
    this.#ackTimer ??= setTimeout(() => this.#sendPendingAcksAlone(), ACK_WAIT_MS);
  }

  /** Every waiting ack goes in the broker's ack batch now; no take will carry them. */
  #sendPendingAcksAlone(): void {
    this.#clearAckTimer();
    this.#sendAcksAlone(this.#acks.splice(0));
  }

  #clearAckTimer(): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
  }

  /**
   * Settles the acks riding on a take with its reply. The consumer's connection waits out an
   * outage and an ack must not: a take that fails, or gives no reply within the command timeout,
   * hands its acks to the broker's ack batch, which has its own bound (acking twice is harmless).
   */
  #carry(acks: PendingAck[], take: Promise<unknown>): void {
    let done = false;
    const handOver = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.#sendAcksAlone(acks);
    };
    const timer = setTimeout(handOver, this.#deps.options.socketTimeoutMs);
    take.then(() => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const ack of acks) ack.resolve();
    }, handOver);
  }

  #sendAcksAlone(acks: readonly PendingAck[]): void {
    for (const ack of acks) this.#deps.store.ack(ack.tag).then(ack.resolve, ack.reject);
  }

  async #waitForMessage(connection: Redis, list: string): Promise<void> {
    if (this.#clientId === undefined) this.#clientId = Number(await connection.call('CLIENT', 'ID'));
    if (this.#stopped) return;
    await connection.blmove(list, list, 'RIGHT', 'RIGHT', BLOCK_SECONDS);
  }

  /** Stops popping; deliveries already handed out stay with their owner until settled. */
  async stop(): Promise<void> {
    if (this.#stopped && !this.#pop) return;
    this.#stopped = true;
    this.#sendPendingAcksAlone();
    const wake = this.#wakeSlotWaiter;
    this.#wakeSlotWaiter = undefined;
    wake?.();
    // Popped but never read: back to the queue now, even if the reader never calls next() again.
    await this.#returnUnread?.();
    const pop = this.#pop;
    if (!pop) {
      if (this.#connection) await closeConnection(this.#connection, this.#deps.options.socketTimeoutMs);
      return;
    }
    let settled = false;
    void pop.finally(() => (settled = true)).catch(() => undefined);
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    // The blocking wait may not have reached the server yet: repeat the unblock until it returns.
    const deadline = Date.now() + 1000;
    while (this.#blocked && !settled && Date.now() < deadline) {
      if (this.#clientId !== undefined) void this.#deps.commands.call('CLIENT', 'UNBLOCK', this.#clientId).catch(() => 0);
      await Promise.race([pop.catch(() => undefined), sleep(50)]);
    }
    // A batch take finishes by itself unless the server is unreachable; don't wait out an outage.
    if (!settled) await Promise.race([pop.catch(() => undefined), sleep(2000)]);
    if (!settled && this.#connection) this.#connection.disconnect();
    // Disconnected mid-reconnect, ioredis may never settle a command it queued: the loop stops
    // waiting for it (only now: ended earlier, it would QUIT a connection still blocked in BLMOVE),
    // and so does this, after a little while.
    this.#endWait();
    await Promise.race([pop.catch(() => undefined), sleep(1000)]);
    // A take that was in flight may have added deliveries after the first return.
    await this.#returnUnread?.();
  }
}
