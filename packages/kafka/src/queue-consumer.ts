import { DeliveryBuffer, type BrokerMessage, type ConsumeOptions, type Delivery, InFlightSet } from '@tq/core/adapter';
import type { Admin, Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import { isRebalanceError, toTqError } from './errors.js';
import { deadLetterFromHeader, decodeHeaders, headerText, redeliveredHeader } from './headers.js';
import { OffsetTracker } from './offset-tracker.js';
import type { KafkaOptions } from './options.js';

/** What a QueueConsumer needs from its KafkaBroker. */
export interface ConsumerHost {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly options: KafkaOptions;
  ensureTopic(topic: string): Promise<void>;
  /** Appends the raw record to `topic` (requeue, dead letter), resolving once the cluster has it. */
  republish(topic: string, value: Buffer | null, headers: IHeaders): Promise<void>;
  forget(consumer: QueueConsumer): void;
}

type Outcome = 'ack' | 'requeue' | 'dead';
/** 'abandon': pushed but never read by the worker; it stays uncommitted and is redelivered. */
type Settlement = Outcome | 'abandon';

interface InFlight {
  readonly partition: number;
  readonly offset: bigint;
  readonly tracker: OffsetTracker;
  readonly raw: KafkaMessage;
}

/**
 * One `consume(queue)` call: a kafkajs consumer in the queue's group, feeding a DeliveryBuffer.
 *
 * - Back-pressure: at most `prefetch` deliveries are handed out and unsettled. When full, the
 *   batch handler waits for a slot while still heart-beating, so the group keeps us.
 * - Commits: each partition's OffsetTracker says what may be committed (contiguous completed
 *   offsets, the rest in metadata); commits are coalesced, one in flight at a time.
 * - Rebalance: a new group generation re-reads progress from the group's commits. A partition
 *   we keep, whose commit is still our last one, keeps its tracker: work finished or in flight
 *   across the rebalance (or a broker restart) is neither lost nor handed out twice. A partition
 *   that moved is someone else's: its deliveries settle here without committing.
 */
export class QueueConsumer {
  readonly buffer: DeliveryBuffer<Delivery>;
  readonly #host: ConsumerHost;
  readonly #topic: string;
  readonly #groupId: string;
  readonly #prefetch: number;
  readonly #signal: AbortSignal;
  #consumer: Consumer | undefined;
  #generation = 0;
  #trackers: Promise<Map<number, OffsetTracker>> | undefined;
  /** Trackers of the previous generation, offered for reuse to the next one. */
  #previousTrackers: Promise<Map<number, OffsetTracker>> | undefined;
  /** "offset metadata" of our last successful commit per partition. */
  readonly #lastCommitted = new Map<number, string>();
  readonly #currentTrackers = new WeakSet<OffsetTracker>();
  readonly #committedVersions = new WeakMap<OffsetTracker, number>();
  readonly #unsettled = new InFlightSet<InFlight>();
  /** The batch handler waiting for the window to drain to `refillAt` (one batch runs at a time). */
  #slotWaiter: { readonly refillAt: number; wake(): void } | undefined;
  #heartbeatTicker: NodeJS.Timeout | undefined;
  #starvationCheck: NodeJS.Immediate | undefined;
  #heartbeatAt = 0;
  #stopping = false;
  #shutdown: Promise<void> | undefined;
  #commitQueued: Promise<void> | undefined;
  #commitTimer: NodeJS.Timeout | undefined;
  #commitRunning: Promise<void> = Promise.resolve();
  #started: Promise<void> | undefined;

  constructor(host: ConsumerHost, topic: string, groupId: string, options: ConsumeOptions) {
    this.#host = host;
    this.#topic = topic;
    this.#groupId = groupId;
    this.#prefetch = Math.max(1, Math.floor(options.prefetch));
    this.#signal = options.signal;
    this.buffer = new DeliveryBuffer<Delivery>({ signal: options.signal, onClose: () => void this.#readerGone() });
  }

  /** Joins the group and starts fetching; failures end the iteration with a typed error. */
  start(): void {
    this.#started = this.#run().catch((error: unknown) => {
      this.buffer.fail(toTqError(error, `consuming ${this.#topic}`));
      void this.#disconnect();
    });
  }

  async #run(): Promise<void> {
    const { options } = this.#host;
    await this.#host.ensureTopic(this.#topic);
    if (this.#stopping) return;
    const consumer = this.#host.kafka.consumer({
      groupId: this.#groupId,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: options.heartbeatIntervalMs,
      maxWaitTimeInMs: options.maxWaitTimeMs,
      allowAutoTopicCreation: options.topicCreation === 'auto',
    });
    this.#consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      // New generation: progress is re-read from the group's commits on first use.
      this.#generation++;
      if (this.#trackers) this.#previousTrackers = this.#trackers;
      this.#trackers = undefined;
    });
    consumer.on(consumer.events.CRASH, (event) => {
      const { error, restart } = event.payload as { error: Error; restart: boolean };
      if (!restart) this.buffer.fail(toTqError(error, `consuming ${this.#topic}`));
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [this.#topic], fromBeginning: true });
    if (this.#stopping) return;
    this.#startHeartbeatTicker();
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.#onBatch(payload),
    });
  }

  async #onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const generation = this.#generation;
    const trackers = await this.#loadTrackers();
    const tracker = trackers.get(batch.partition);
    if (!tracker || generation !== this.#generation) return;
    // isRunning/isStale change only while this handler awaits: checked after each await, not per message.
    const current = () => !this.#stopping && generation === this.#generation && isRunning() && !isStale();
    if (!current()) return;
    /** Highest offset passed over (handed out or skipped), resolved before each await and at the end. */
    let passed: string | undefined;
    let handed = false;
    for (const raw of batch.messages) {
      const offset = BigInt(raw.offset);
      if (tracker.isBehind(offset) || tracker.has(offset)) {
        // Already committed, or handed out before a rebalance and still ours: not twice.
        passed = raw.offset;
        continue;
      }
      if (tracker.wasDoneEarlier(offset)) {
        // Finished before a crash or rebalance (recorded in commit metadata): not again.
        tracker.skip(offset);
        passed = raw.offset;
        continue;
      }
      // Only await when full: an await per message costs more than the rest of this loop.
      if (this.#unsettled.size >= this.#prefetch) {
        if (passed !== undefined) resolveOffset(passed);
        if (!(await this.#waitForSlot(heartbeat)) || !current()) break;
      }
      const entry: InFlight = { partition: batch.partition, offset, tracker, raw };
      const redelivered = tracker.wasDeliveredBefore(offset) || headerText(raw.headers, redeliveredHeader) === '1';
      tracker.track(offset);
      this.#unsettled.add(entry);
      this.buffer.push(new KafkaDelivery(toBrokerMessage(raw), redelivered, this, entry));
      // kafkajs fetches from the last resolved offset: resolve = "handed out", not "done".
      passed = raw.offset;
      handed = true;
    }
    if (passed !== undefined && current()) resolveOffset(passed);
    // Record what was handed out (the metadata's highest delivered offset marks redeliveries).
    if (handed) this.#commitSoon();
    if (current()) await heartbeat();
  }

  /**
   * Waits until the window has room for half of `prefetch` again, so a full window costs one
   * wake-up per half window, or for any room once the reader has read everything handed out
   * (it must not starve). The heartbeat ticker also wakes it, to keep the group's lease through
   * a long wait. false = stop.
   */
  async #waitForSlot(heartbeat: () => Promise<void>): Promise<boolean> {
    const refillAt = this.#prefetch - Math.max(1, this.#prefetch >> 1);
    while (!this.#stopping && !this.#hasRoom(refillAt)) {
      await new Promise<void>((resolve) => (this.#slotWaiter = { refillAt, wake: resolve }));
      if (this.#stopping) break;
      // kafkajs sends one only when due; calling it only then saves a chain of promises per wake.
      const now = Date.now();
      if (now - this.#heartbeatAt >= this.#host.options.heartbeatIntervalMs / 2) {
        this.#heartbeatAt = now;
        await heartbeat();
      }
    }
    return !this.#stopping;
  }

  /** Wakes the waiting batch handler every heartbeat interval, whatever the window. */
  #startHeartbeatTicker(): void {
    this.#heartbeatTicker ??= setInterval(() => {
      const waiter = this.#slotWaiter;
      this.#slotWaiter = undefined;
      waiter?.wake();
    }, this.#host.options.heartbeatIntervalMs / 2);
    this.#heartbeatTicker.unref();
  }

  /** Half the window is free (down to `refillAt`), or some of it is and the reader has read everything handed out. */
  #hasRoom(refillAt: number): boolean {
    const unsettled = this.#unsettled.size;
    return unsettled <= refillAt || (unsettled < this.#prefetch && this.buffer.size === 0);
  }

  #wakeSlotWaiter(): void {
    const waiter = this.#slotWaiter;
    if (!waiter) return;
    if (this.#stopping || this.#unsettled.size <= waiter.refillAt) {
      this.#slotWaiter = undefined;
      waiter.wake();
    } else if (!this.#starvationCheck && this.#hasRoom(waiter.refillAt)) {
      // The reader has nothing left to read: refill after this turn's other settlements, so a
      // reader that keeps up costs one wake-up per turn, not one per message.
      this.#starvationCheck = setImmediate(() => {
        this.#starvationCheck = undefined;
        if (this.#slotWaiter === waiter && this.#hasRoom(waiter.refillAt)) {
          this.#slotWaiter = undefined;
          waiter.wake();
        }
      });
    }
  }

  /** Progress of every partition for the current generation, restored from the group's commits. */
  #loadTrackers(): Promise<Map<number, OffsetTracker>> {
    if (!this.#trackers) {
      const generation = this.#generation;
      const previous = this.#previousTrackers;
      const loading = this.#host.admin.fetchOffsets({ groupId: this.#groupId, topics: [this.#topic] }).then(async (topics) => {
        const before = previous ? await previous.catch(() => undefined) : undefined;
        const map = new Map<number, OffsetTracker>();
        for (const { partition, offset, metadata } of topics.find((t) => t.topic === this.#topic)?.partitions ?? []) {
          const committed = offset === '-1' || offset === '' ? null : BigInt(offset);
          const mine = before?.get(partition);
          // Our own last commit (or none at all: never committed, or lost by the cluster, as the
          // mock's restart does) is the group's: nobody else moved this partition on.
          const ours = this.#lastCommitted.get(partition) ?? noCommit;
          const theirs = `${offset} ${metadata ?? ''}`;
          const untouched = mine !== undefined && (theirs === ours || theirs === noCommit);
          const tracker = untouched ? mine : OffsetTracker.restore(committed, metadata);
          if (!untouched) this.#lastCommitted.delete(partition);
          this.#currentTrackers.add(tracker);
          map.set(partition, tracker);
        }
        for (const old of before?.values() ?? []) if (![...map.values()].includes(old)) this.#currentTrackers.delete(old);
        return map;
      });
      loading.catch(() => {
        if (this.#trackers === loading && this.#generation === generation) this.#trackers = undefined;
      });
      this.#trackers = loading;
    }
    return this.#trackers;
  }

  /** Settles a delivery; an ack (the common case) completes without an await. */
  settle(entry: InFlight, outcome: Settlement): Promise<void> {
    if (!this.#unsettled.has(entry)) return settledAlready;
    if (outcome === 'abandon') {
      this.#release(entry);
      return settledAlready;
    }
    if (outcome === 'ack') {
      this.#complete(entry);
      return settledAlready;
    }
    return this.#copyThenComplete(entry, outcome);
  }

  /** Kafka cannot put a record back or move it: append a copy (requeue, dead letter), then count the original done. */
  async #copyThenComplete(entry: InFlight, outcome: 'requeue' | 'dead'): Promise<void> {
    try {
      if (outcome === 'requeue') {
        await this.#host.republish(this.#topic, entry.raw.value, { ...entry.raw.headers, [redeliveredHeader]: '1' });
      } else {
        const deadTopic = `${this.#topic}${this.#host.options.deadLetterSuffix}`;
        await this.#host.ensureTopic(deadTopic);
        await this.#host.republish(deadTopic, entry.raw.value, { ...entry.raw.headers, [deadLetterFromHeader]: this.#topic });
      }
    } catch (error) {
      // Not copied: the original stays unfinished, so the next owner of the partition redelivers it.
      this.#release(entry);
      throw toTqError(error, outcome === 'requeue' ? 'requeue' : 'dead-lettering');
    }
    this.#complete(entry);
  }

  #complete(entry: InFlight): void {
    this.#release(entry);
    const current = this.#currentTrackers.has(entry.tracker) && this.#trackers !== undefined;
    // The commit runs in the background, coalesced with other settlements: waiting for it here
    // would cost a round trip per message. A crash before it lands redelivers (at-least-once).
    if (entry.tracker.complete(entry.offset) && current) this.#commitSoon();
  }

  /** Commits within commitIntervalMs: one request carries every settlement of that window. */
  #commitSoon(): void {
    if (this.#commitTimer) return;
    this.#commitTimer = setTimeout(() => {
      this.#commitTimer = undefined;
      this.#commit().catch(() => {
        // Unchanged versions are retried by the next round; make sure one comes.
        if (!this.#stopping) setTimeout(() => this.#commitSoon(), 1_000).unref();
      });
    }, this.#host.options.commitIntervalMs);
  }

  #release(entry: InFlight): void {
    this.#unsettled.delete(entry);
    this.#wakeSlotWaiter();
    if (this.#stopping && this.#unsettled.size === 0) this.#drained?.();
  }

  /** Commits every partition whose progress changed; calls made during a round join the next one. */
  #commit(): Promise<void> {
    this.#commitQueued ??= this.#commitRunning.then(() => {
      this.#commitQueued = undefined;
      const round = this.#commitRound();
      this.#commitRunning = round.catch(() => undefined);
      return round;
    });
    return this.#commitQueued;
  }

  async #commitRound(): Promise<void> {
    const consumer = this.#consumer;
    const loading = this.#trackers;
    if (!consumer || !loading) return;
    const trackers = await loading;
    const offsets: { topic: string; partition: number; offset: string; metadata: string }[] = [];
    const versions: [OffsetTracker, number][] = [];
    for (const [partition, tracker] of trackers) {
      const offset = tracker.commitOffset;
      if (offset === null || this.#committedVersions.get(tracker) === tracker.version) continue;
      offsets.push({ topic: this.#topic, partition, offset: offset.toString(), metadata: tracker.metadata });
      versions.push([tracker, tracker.version]);
    }
    if (offsets.length === 0) return;
    try {
      await consumer.commitOffsets(offsets);
      for (const [tracker, version] of versions) this.#committedVersions.set(tracker, version);
      for (const { partition, offset, metadata } of offsets) this.#lastCommitted.set(partition, `${offset} ${metadata}`);
    } catch (error) {
      // The group moved on: those partitions are redelivered by their new owner.
      if (isRebalanceError(error)) return;
      throw toTqError(error, `committing offsets of ${this.#topic}`);
    }
  }

  #drained: (() => void) | undefined;

  /** The reader stopped (abort, break): stop fetching, hand unread deliveries back, wait for read ones. */
  async #readerGone(): Promise<void> {
    this.#stopFetching();
    for (const unread of this.buffer.drainUnread()) (unread as KafkaDelivery).abandon();
    if (this.#unsettled.size > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
    await this.close();
  }

  #stopFetching(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#wakeSlotWaiter();
    try {
      this.#consumer?.pause([{ topic: this.#topic }]);
    } catch {
      // not running yet: #run checks #stopping
    }
  }

  /**
   * Commits what is done and leaves the group. Deliveries still unsettled stay uncommitted:
   * the group hands them to another consumer (or to the next one to join).
   */
  close(): Promise<void> {
    this.#shutdown ??= (async () => {
      this.#stopFetching();
      this.buffer.end();
      for (const unread of this.buffer.drainUnread()) (unread as KafkaDelivery).abandon();
      this.#unsettled.clear();
      this.#drained?.();
      clearTimeout(this.#commitTimer);
      this.#commitTimer = undefined;
      clearInterval(this.#heartbeatTicker);
      // Bounded: with the cluster unreachable, kafkajs would retry for minutes.
      await withTimeout(
        (async () => {
          await this.#commit().catch(() => undefined);
          await this.#disconnect();
        })(),
        closeBudgetMs,
      );
    })();
    return this.#shutdown;
  }

  async #disconnect(): Promise<void> {
    clearInterval(this.#heartbeatTicker);
    await this.#consumer?.disconnect().catch(() => undefined);
    await this.#started?.catch(() => undefined);
    this.#host.forget(this);
  }

  get signal(): AbortSignal {
    return this.#signal;
  }
}

/** How fetchOffsets reports a partition without a commit, in #lastCommitted's "offset metadata" form. */
const noCommit = '-1 ';

/** Longest a close (final commit, leaving the group) may take when the cluster does not answer. */
const closeBudgetMs = 4_000;

async function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

function toBrokerMessage(raw: KafkaMessage): BrokerMessage {
  const { headers, properties } = decodeHeaders(raw.headers);
  const value = raw.value ?? Buffer.alloc(0);
  return { body: new Uint8Array(value.buffer, value.byteOffset, value.byteLength), headers, properties };
}

const settledAlready: Promise<void> = Promise.resolve();

class KafkaDelivery implements Delivery {
  readonly message: BrokerMessage;
  readonly redelivered: boolean;
  readonly #consumer: QueueConsumer;
  readonly #entry: InFlight;
  #settled = false;

  constructor(message: BrokerMessage, redelivered: boolean, consumer: QueueConsumer, entry: InFlight) {
    this.message = message;
    this.redelivered = redelivered;
    this.#consumer = consumer;
    this.#entry = entry;
  }

  ack(): Promise<void> {
    return this.#finish('ack');
  }

  reject(requeue: boolean): Promise<void> {
    return this.#finish(requeue ? 'requeue' : 'dead');
  }

  /** Never read by the worker: frees its prefetch slot and leaves it uncommitted (redelivered). */
  abandon(): void {
    void this.#finish('abandon');
  }

  #finish(outcome: Settlement): Promise<void> {
    if (this.#settled) return settledAlready;
    this.#settled = true;
    return this.#consumer.settle(this.#entry, outcome);
  }
}
