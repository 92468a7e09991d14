import { deferIfEarly, notBeforeOf } from './delayed-nak.js';
import type { Consumer, ConsumeCallback, ConsumerMessages, FetchOptions, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { DeliveryBuffer, MessageDecodeError, type BrokerMessage, type Delivery, type Logger, InFlightSet } from '@tq/core/adapter';
import { deadLetter } from './dead-letter.js';
import { toTqError } from './errors.js';
import type { WriteBatch } from './write-batch.js';
import { decodeDeliveredHeaders, rawHeaderBlock } from './headers.js';
import { NatsDelivery, type Settlement } from './nats-delivery.js';
import type { Subjects } from './subjects.js';

export interface QueueConsumerContext {
  readonly nc: NatsConnection;
  readonly writes: WriteBatch;
  readonly js: JetStreamClient;
  readonly subjects: Subjects;
  readonly maxDeliver: number;
  /** Set for a queue of the dead-letter stream (limits retention): removes an acked message from the stream. */
  readonly deleteOnAck?: (seq: number) => Promise<void>;
  readonly pullExpiresMs: number;
  /** The app's logger, for messages moved to the dead-letter stream before core sees them. */
  readonly logger?: Logger;
  /** Resolves to the durable consumer of `queue`, creating it if needed; `refresh` after a failure. */
  readonly consumerFor: (queue: string, refresh: boolean) => Promise<Consumer>;
  /** Stopped for good (abort, return, close) with every delivery settled. */
  readonly onStop: () => void;
}

const maxBackoffMs = 2_000;
/** The message of a delivery that arrives after stop(): it is only given back, never decoded or read. */
const neverRead = { body: new Uint8Array(), headers: {}, properties: {} } as unknown as BrokerMessage;
const coalesceMs = 5;

/**
 * One `consume(queue)` call: pulls from the queue's shared durable consumer with bounded
 * credit, so this consumer never holds more than `prefetch` unsettled messages (nats.js's
 * `consume()` refills its buffer regardless of acks, hence explicit `fetch` batches).
 * A new pull is issued once at least half the credit is free; with no pull outstanding, any
 * credit is pulled after at most 5 ms, so pulls stay few under load and no slot starves.
 *
 * A settled delivery frees its credit when its ack is written with the others of that moment
 * (see WriteBatch), except with no pull outstanding: then it frees it at once. A worker settles
 * a window's tasks within one event-loop turn, so with nothing on its way, waiting for the write
 * made the next pull wait for the window's last task, and the worker idled through each pull's
 * round trip (a third of the time at c=10). With a pull outstanding, messages are on their way
 * and the next pull can wait for the writes. The server may briefly count more than `prefetch`
 * unacked for this consumer: the acks of one turn.
 */
export class QueueConsumer {
  readonly buffer: DeliveryBuffer<Delivery>;
  readonly #queue: string;
  #prefetch: number;
  readonly #context: QueueConsumerContext;
  readonly #unacked = new InFlightSet<NatsDelivery>();
  readonly #fetches = new Set<ConsumerMessages>();
  #requested = 0;
  #stopped = false;
  /**
   * Stopped, with deliveries to give back (unread, and any a still-open pull brings): they are
   * NAKed once every pull of this consumer has ended on the server (see stop()).
   */
  #handBack: NatsDelivery[] | undefined;
  #handedBack: Promise<void> = Promise.resolve();
  /** Stopped with nothing to give back, its pulls being drained (see stop()). */
  #draining = false;
  /** A pull ended with an error (consumer deleted, leader lost): the run loop backs off and re-resolves. */
  #pullError: unknown;
  #wake: (() => void) | undefined;
  /** The run loop waits for credit to batch a pull (see #run): only half the window wakes it. */
  #coalescing = false;

  constructor(queue: string, prefetch: number, signal: AbortSignal, context: QueueConsumerContext) {
    this.#queue = queue;
    this.#prefetch = Math.max(1, Math.floor(prefetch));
    this.#context = context;
    this.buffer = new DeliveryBuffer<Delivery>({ signal, onClose: () => this.stop() });
    // Stop pulling the moment the consumer aborts, not when its reader notices.
    signal.addEventListener('abort', () => this.stop(), { once: true });
    void this.#run();
  }

  /** Core widens the window while it holds countdown/ETA tasks; takes effect on the next pull. */
  setPrefetch(prefetch: number): void {
    this.#prefetch = Math.max(1, Math.floor(prefetch));
    this.#wakeUp();
  }

  async #run(): Promise<void> {
    let failures = 0;
    let refresh = false;
    let consumer: Consumer | undefined;
    let lowCreditSince: number | undefined;
    while (!this.#stopped) {
      try {
        if (this.#pullError !== undefined) {
          const error = this.#pullError;
          this.#pullError = undefined;
          throw error;
        }
        // After a failure, look the durable up again: it may have been deleted and must be re-created.
        consumer ??= await this.#context.consumerFor(this.#queue, refresh);
        refresh = false;
        const credit = this.#credit();
        if (credit <= 0 || (credit < this.#pullAt() && this.#requested > 0)) {
          await this.#sleepUntilWoken();
          continue;
        }
        if (credit < this.#pullAt()) {
          // Nothing outstanding and only a little credit: under load settlements come one by
          // one, so wait a moment for more to batch the pull instead of fetching one at a time.
          lowCreditSince ??= Date.now();
          const left = coalesceMs - (Date.now() - lowCreditSince);
          if (left > 0) {
            this.#coalescing = true;
            await Promise.race([this.#sleepUntilWoken(), delay(left)]);
            this.#coalescing = false;
            continue;
          }
        }
        lowCreditSince = undefined;
        this.#requested += credit;
        let received = 0;
        const fetchOptions: FetchOptions & ConsumeCallback = {
          max_messages: credit,
          expires: this.#context.pullExpiresMs,
          // A callback, not the async iterator: no promise per message. nats.js's pull
          // implementation (shared by fetch and consume) takes it for fetch too.
          callback: (msg) => {
            received++;
            this.#requested--;
            this.#accept(msg);
          },
        };
        let pull: ConsumerMessages;
        try {
          pull = await consumer.fetch(fetchOptions);
        } catch (error) {
          this.#requested -= credit;
          throw error;
        }
        this.#fetches.add(pull);
        void pull
          .closed()
          .catch((error: unknown) => error)
          .then((error) => this.#pullEnded(pull, credit - received, error));
        failures = 0;
      } catch (error) {
        if (this.#stopped) return;
        if (this.#context.nc.isClosed()) {
          this.buffer.fail(toTqError(error, `consuming from queue "${this.#queue}"`));
          return;
        }
        // A node went away, a leader is being elected or the durable was deleted: the
        // connection reconnects by itself, so back off, look the durable up again and pull.
        consumer = undefined;
        refresh = true;
        failures++;
        await delay(Math.min(maxBackoffMs, 100 * 2 ** failures));
      }
    }
  }

  /** Credit for a new pull: the window less what this consumer holds and has asked for. */
  #credit(): number {
    return this.#prefetch - this.#unacked.size - this.#requested;
  }

  /** The credit worth a pull of its own while another is outstanding: half the window. */
  #pullAt(): number {
    return Math.ceil(this.#prefetch / 2);
  }

  /** A pull finished (all received, expired, stopped or failed): its unused credit is free again. */
  #pullEnded(pull: ConsumerMessages, unreceived: number, error: unknown): void {
    if (error && !this.#stopped) this.#pullError = error;
    this.#requested -= unreceived;
    this.#fetches.delete(pull);
    this.#wakeUp();
  }

  #accept(msg: JsMsg): void {
    if (this.#stopped) {
      // A pull still open after stop() brought it: give it back with the others, once the pull is over.
      if (this.#handBack) {
        const delivery = new NatsDelivery(msg, neverRead, (d, outcome) => this.#settle(d, outcome));
        this.#unacked.add(delivery);
        this.#handBack.push(delivery);
      } else msg.nak();
      return;
    }
    const { maxDeliver } = this.#context;
    const block = rawHeaderBlock(msg);
    const notBefore = notBeforeOf(msg, block);
    if (notBefore !== undefined && deferIfEarly(msg, notBefore)) return;
    // A delayed message's first delivery was its deferral, not an attempt.
    const deliveries = notBefore === undefined ? msg.info.deliveryCount : Math.max(1, msg.info.deliveryCount - 1);
    // MaxDeliver is enforced here, not by the server: a server-side limit leaves the message
    // stranded in the work-queue stream with only an advisory to show for it.
    if (deliveries > maxDeliver) {
      this.#deadLetterRaw(msg, `delivered ${deliveries - 1} times without an ack (maxDeliver=${maxDeliver})`);
      return;
    }
    let decoded: ReturnType<typeof decodeDeliveredHeaders>;
    try {
      decoded = decodeDeliveredHeaders(msg, block);
    } catch (error) {
      const reason = error instanceof MessageDecodeError ? error.message : String(error);
      this.#deadLetterRaw(msg, reason);
      return;
    }
    // A copy: nats.js hands out views into its socket buffers (Node Buffers).
    const delivery = new NatsDelivery(msg, { body: new Uint8Array(msg.data), ...decoded }, (d, outcome) => this.#settle(d, outcome), deliveries > 1);
    this.#unacked.add(delivery);
    if (!this.buffer.push(delivery)) void delivery.abandon();
  }

  #deadLetterRaw(msg: JsMsg, reason: string): void {
    const { js, subjects } = this.#context;
    this.#context.logger?.warn(`nats: a message on ${this.#queue} was moved to the dead-letter stream: ${reason}`);
    deadLetter(js, subjects, this.#queue, msg, reason)
      .then(() => this.#context.writes.confirmed(() => msg.ack()))
      .catch(() => {
        // Not moved: left unacked, AckWait brings it back and the next delivery moves it.
      });
  }

  async #settle(delivery: NatsDelivery, outcome: Settlement): Promise<void> {
    const msg = delivery.raw;
    try {
      const { writes } = this.#context;
      // The credit is free once the ack/nak is written, or at once with no pull outstanding
      // (see the class comment); the next pull never waits for the PONG that confirms it.
      const settleWith = (write: () => void) => {
        if (this.#requested === 0) this.#release(delivery);
        return writes.confirmed(() => {
          write();
          this.#release(delivery);
        });
      };
      switch (outcome) {
        case 'ack':
          await settleWith(() => msg.ack());
          await this.#context.deleteOnAck?.(msg.seq);
          break;
        case 'requeue':
        case 'abandon':
          await settleWith(() => msg.nak());
          break;
        case 'dead':
          // The copy is confirmed (PubAck) before the original is acked: never lost in between.
          await deadLetter(this.#context.js, this.#context.subjects, this.#queue, msg, 'rejected by the worker (requeue=false)');
          await settleWith(() => msg.ack());
          break;
      }
    } catch (error) {
      throw toTqError(error, `settling a delivery from queue "${this.#queue}" (${outcome})`);
    } finally {
      this.#release(delivery);
    }
  }

  #release(delivery: NatsDelivery): void {
    if (!this.#unacked.delete(delivery)) return;
    // Settlements come one by one, often a window's worth in one turn: wake the run loop only
    // when it can act (a pull's worth of credit, or the first credit with no pull outstanding),
    // not for each one.
    if (this.#credit() >= this.#pullAt() || (this.#requested === 0 && !this.#coalescing)) this.#wakeUp();
    this.#forgetIfDone();
  }

  /**
   * The reader stopped: end the pulls, then give back the deliveries it never read.
   *
   * The order matters: JetStream has no way to cancel a pull request, and nats-server 2.9 drops
   * one only when it notices that its inbox lost interest. (a) A message the server sends into a
   * pull the client already left is lost to everyone until AckWait (30 s) — including one
   * published just after stop() (seen as a flaky kit test). (b) A NAK processed while such a
   * dead request is still queued loses the NAKed message and delivers another one twice (server
   * 2.9.10 rewinds its stream sequence for a redelivery; seen as a task that ran twice). So:
   * - with something to give back, the pulls stay subscribed until the server ends them (batch
   *   complete, or `pullExpiresMs`, 5 s by default); what they still bring joins the deliveries
   *   to give back, and all of them are NAKed after that;
   * - with nothing to give back, each pull is drained (UNSUB, then PING/PONG: whatever the server
   *   sent before it saw the UNSUB still arrives and is kept), which takes one round trip; the
   *   rare message caught that way is NAKed only once the dead request has expired on the server.
   */
  stop(): void {
    void this.#stop([]);
  }

  #stop(alsoGiveBack: readonly NatsDelivery[]): Promise<void> {
    if (this.#stopped) return this.#handedBack;
    this.#stopped = true;
    this.#wakeUp();
    const handBack = [...(this.buffer.drainUnread() as NatsDelivery[]), ...alsoGiveBack];
    // Deliveries the reader still holds count too: settled after the stop (reject(true)), their
    // NAK must reach an open pull of ours, not one the client already left.
    const held = [...this.#unacked].some((d) => !d.settled && !handBack.includes(d));
    if (this.#fetches.size === 0) {
      this.#handedBack = this.#giveBack(handBack);
      this.#forgetIfDone();
      return this.#handedBack;
    }
    if (handBack.length === 0 && !held) {
      this.#handedBack = this.#drainPulls([...this.#fetches]);
      return this.#handedBack;
    }
    this.#handBack = handBack;
    const pulls = [...this.#fetches];
    // A pull whose end never comes (connection trouble) is dropped after its expiry plus a margin.
    const bound = this.#context.pullExpiresMs + 2_000;
    this.#handedBack = (async () => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(pulls.map((pull) => pull.closed())),
        new Promise((resolve) => (timer = setTimeout(resolve, bound))),
      ]);
      clearTimeout(timer);
      for (const pull of pulls) pull.stop();
      const all = this.#handBack ?? [];
      this.#handBack = undefined;
      await this.#giveBack(all);
    })();
    return this.#handedBack;
  }

  /** Nothing to give back: see stop(). The consumer is not forgotten (onStop) before this ends. */
  async #drainPulls(pulls: readonly ConsumerMessages[]): Promise<void> {
    this.#handBack = [];
    this.#draining = true;
    try {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(pulls.map((pull) => drainPull(pull))),
        new Promise((resolve) => (timer = setTimeout(resolve, this.#context.pullExpiresMs + 2_000))),
      ]);
      clearTimeout(timer);
      for (const pull of pulls) pull.stop();
      const caught = this.#handBack;
      this.#handBack = undefined;
      if (caught.length > 0) {
        await delay(this.#context.pullExpiresMs + 250);
        await this.#giveBack(caught);
      }
    } finally {
      this.#draining = false;
      this.#forgetIfDone();
    }
  }

  async #giveBack(deliveries: readonly NatsDelivery[]): Promise<void> {
    await Promise.allSettled(deliveries.map((d) => d.abandon()));
  }

  /** The broker is closing: every unacked delivery returns to the queue (after the pulls end, see stop()). */
  async abandonAll(): Promise<void> {
    this.buffer.end();
    await this.#stop([...this.#unacked].filter((d) => !d.settled));
    await Promise.allSettled([...this.#unacked].map((d) => d.abandon()));
  }

  /** Stopped with nothing left to settle: the broker need not give anything back on close. */
  #forgetIfDone(): void {
    if (this.#stopped && !this.#draining && this.#unacked.size === 0) this.#context.onStop();
  }

  #sleepUntilWoken(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/**
 * Subscription.drain() on the pull's inbox (UNSUB, then a PING; messages before the PONG are
 * still handled): nats.js keeps that subscription private and ConsumerMessages has no drain.
 */
function drainPull(pull: ConsumerMessages): Promise<unknown> {
  const sub = (pull as unknown as { sub?: { drain?: () => Promise<void> } }).sub;
  return sub?.drain ? sub.drain().catch(() => undefined) : Promise.resolve(pull.stop());
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
