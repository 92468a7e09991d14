import { withDeadline } from '@tq/core/adapter';
import type { Admin, Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import { headerText } from './headers.js';
import type { KafkaOptions } from './options.js';

/**
 * Durable countdown/ETA on Kafka: delay topics with a fixed wait each, "tq.delay.<ms>", shared
 * by every queue (the target topic rides in a header). A message due in D ms is appended to
 * the longest level that is not longer than D (the shortest one for D under it) with the time it
 * may leave that level: min(now + level, due). In one level topic the leave times follow the
 * append order (all wait the same time), so a forwarder only ever waits on the head of a
 * partition: it pauses the partition until the head may leave, then moves it on to the next
 * level or, once due, to its queue's topic.
 *
 * Each queue has its own forwarders: every worker consuming queue Q runs one in the consumer
 * group "<Q's group>:delay" (a ":" no queue's group can contain), which reads the delay topics
 * and moves Q's records only, skipping the others'. So delays of Q move while Q has consumers,
 * its forwarders are spread and taken over exactly like Q's own consumers (no single point of
 * failure, no group shared by the whole fleet), and a burst of delays on one queue never holds
 * back another's. The price is that every queue's group reads every delayed record.
 *
 * A record is committed only after its next hop is acknowledged by the cluster (acks=all):
 * at-least-once, a crash between the two forwards a message twice. Skipped records are
 * committed in the background (a rebalance before that reads them again, harmlessly).
 * Lateness: the poll of a resumed partition (tens of ms) per hop (a delay of D takes at most
 * about 3 hops per level below D), and within the shortest level, where leave times can be out
 * of order, up to that level (250 ms). Nothing of a delay lives in worker memory; the records
 * are Kafka's.
 */
export const delayLevelsMs: readonly number[] = Object.freeze([
  250, 1_000, 4_000, 16_000, 64_000, 256_000, 1_024_000, 4_096_000, 16_384_000, 65_536_000, 262_144_000, 1_048_576_000,
]);

/** How long close() waits for the forwarder to leave its group; the session timeout frees its partitions otherwise. */
const leaveTimeoutMs = 1_000;

export const delayTargetHeader = 'tq-delay-target';
export const delayLeaveHeader = 'tq-delay-leave';
export const notBeforeHeader = 'tq-not-before';
const delayHeaders = new Set([delayTargetHeader, delayLeaveHeader, notBeforeHeader]);

export function delayTopic(levelMs: number): string {
  return `tq.delay.${levelMs}`;
}

/** One topic partition as a map key. */
function partitionKey(topic: string, partition: number): string {
  return `${topic}\0${partition}`;
}

/** The level a message due in `remainingMs` waits in next. */
export function levelFor(remainingMs: number): number {
  let chosen = delayLevelsMs[0]!;
  for (const level of delayLevelsMs) if (level <= remainingMs) chosen = level;
  return chosen;
}

/** Where a message due at `notBefore` goes now: its topic (due) or a delay level, with the headers to add. */
export function nextHop(target: string, notBefore: number, now: number): { topic: string; headers: Record<string, string> } {
  const remaining = notBefore - now;
  if (remaining <= 0) return { topic: target, headers: {} };
  const level = levelFor(remaining);
  return {
    topic: delayTopic(level),
    headers: { [delayTargetHeader]: target, [notBeforeHeader]: String(notBefore), [delayLeaveHeader]: String(Math.min(now + level, notBefore)) },
  };
}

/** The headers of a record without the delay's own (what its queue's consumers get). */
export function withoutDelayHeaders(headers: IHeaders | undefined): IHeaders {
  const kept: IHeaders = {};
  for (const [key, value] of Object.entries(headers ?? {})) if (!delayHeaders.has(key)) kept[key] = value;
  return kept;
}

export interface ForwarderHost {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly options: KafkaOptions;
  ensureTopic(topic: string): Promise<void>;
  /** Appends a record, resolving once the cluster has it (acks=all). */
  append(topic: string, value: Buffer | null, headers: IHeaders): Promise<void>;
}

/** The forwarders' group of the queue consumed by group `queueGroup`. */
export function delayGroupFor(queueGroup: string): string {
  return `${queueGroup}:delay`;
}

/** How often the offsets of skipped (other queues') records are committed. */
const skippedCommitIntervalMs = 1_000;

/** Moves one queue's delayed records along the levels and into the queue (see the file comment). */
export class DelayForwarder {
  readonly #host: ForwarderHost;
  readonly #target: string;
  readonly #groupId: string;
  readonly #resumeTimers = new Set<NodeJS.Timeout>();
  /** "topic\0partition" → the offset after the last skipped record, not committed yet. */
  readonly #skipped = new Map<string, { topic: string; partition: number; offset: string }>();
  #skipTimer: NodeJS.Timeout | undefined;
  #consumer: Consumer | undefined;
  #started: Promise<void> | undefined;
  #stopped = false;

  /** Forwards the records whose target is `target` (a queue's topic), as a member of `groupId`. */
  constructor(host: ForwarderHost, target: string, groupId: string) {
    this.#host = host;
    this.#target = target;
    this.#groupId = groupId;
  }

  /** Joins the forwarders' group once; a failure is retried by the next call. */
  start(): Promise<void> {
    this.#started ??= this.#run().catch((error: unknown) => {
      this.#started = undefined;
      throw error;
    });
    return this.#started;
  }

  async #run(): Promise<void> {
    const { options } = this.#host;
    const topics = delayLevelsMs.map(delayTopic);
    await Promise.all(topics.map((topic) => this.#host.ensureTopic(topic)));
    if (this.#stopped) return;
    const consumer = this.#host.kafka.consumer({
      groupId: this.#groupId,
      sessionTimeout: options.sessionTimeoutMs,
      // A join waits at most this long for the other forwarders: keep it short, the group's state is only offsets.
      rebalanceTimeout: Math.min(options.sessionTimeoutMs, 5_000),
      heartbeatInterval: options.heartbeatIntervalMs,
      maxWaitTimeInMs: options.maxWaitTimeMs,
      allowAutoTopicCreation: false,
    });
    this.#consumer = consumer;
    const adopted = await this.#legacyOffsets(topics);
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      // Offsets noted before a rebalance may belong to another member now.
      this.#skipped.clear();
      for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
        for (const partition of partitions) {
          const key = partitionKey(topic, partition);
          const offset = adopted.get(key);
          if (offset === undefined) continue;
          adopted.delete(key);
          consumer.seek({ topic, partition, offset });
        }
      }
    });
    await consumer.connect();
    if (this.#stopped) return void (await consumer.disconnect().catch(() => undefined));
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 4, eachBatch: (payload) => this.#onBatch(consumer, payload) });
  }

  /**
   * Before 2026-12-04 one fleet-wide group "<groupIdPrefix>delay" forwarded every queue's delays
   * (opt-in). A queue's group that has committed nothing on a delay partition starts where that
   * group had got to, not at the beginning, or it would forward again every record that group
   * forwarded within the topics' retention. (Seeked at the first join: the mock cluster refuses
   * admin.setOffsets.)
   */
  async #legacyOffsets(topics: string[]): Promise<Map<string, string>> {
    const { admin, options } = this.#host;
    let mine: Awaited<ReturnType<Admin['fetchOffsets']>>;
    let legacy: typeof mine;
    try {
      [mine, legacy] = await Promise.all([admin.fetchOffsets({ groupId: this.#groupId, topics }), admin.fetchOffsets({ groupId: `${options.groupIdPrefix}delay`, topics })]);
    } catch (error) {
      // Best effort (a cluster whose ACLs hide the old group, say): forwarding must still start.
      options.logger?.warn(`kafka: could not read the offsets of the old delay group ${options.groupIdPrefix}delay (${(error as Error).message}); the delay forwarder of ${this.#target} starts from its own`);
      return new Map();
    }
    const committed = new Set(mine.flatMap(({ topic, partitions }) => partitions.filter((p) => p.offset !== '-1').map((p) => partitionKey(topic, p.partition))));
    const adopted = new Map<string, string>();
    for (const { topic, partitions } of legacy) {
      for (const { partition, offset } of partitions) {
        const key = partitionKey(topic, partition);
        if (offset !== '-1' && !committed.has(key)) adopted.set(key, offset);
      }
    }
    if (adopted.size) options.logger?.info(`kafka: the delay forwarder of ${this.#target} starts where the fleet-wide group ${options.groupIdPrefix}delay of an earlier tq got to`);
    return adopted;
  }

  /**
   * One fetched batch of a partition, in order: this queue's records that may leave are forwarded
   * together (their appends in flight at once, one commit after all are acknowledged); the first
   * that may not leave yet pauses the partition there until it may.
   */
  async #onBatch(consumer: Consumer, { batch, resolveOffset, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    const now = Date.now();
    const leaving: { message: KafkaMessage; notBefore: number }[] = [];
    let last: string | undefined; // the offset of the last record handled
    let wait: { offset: string; leave: number } | undefined;
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) break;
      // Another queue's record (or not tq's) is skipped: its own forwarders move it.
      if (headerText(message.headers, delayTargetHeader) === this.#target) {
        const leave = Number(headerText(message.headers, delayLeaveHeader));
        if (Number.isFinite(leave) && leave > now) {
          wait = { offset: message.offset, leave };
          break;
        }
        // A record without a due time is skipped, not forwarded in a loop.
        const notBefore = Number(headerText(message.headers, notBeforeHeader));
        if (Number.isFinite(notBefore)) leaving.push({ message, notBefore });
      }
      last = message.offset;
    }
    if (last !== undefined) {
      const next = String(BigInt(last) + 1n); // what a commit names: the first offset not handled
      if (leaving.length) {
        // Sent in due order (appends keep their call order): records that fell due while no
        // forwarder ran (a group joining late) reach the queue soonest-due first.
        leaving.sort((a, b) => a.notBefore - b.notBefore);
        await Promise.all(leaving.map(({ message, notBefore }) => this.#forward(message, notBefore, now)));
        // The consumer's position (the next fetch) moves past the handled records only now.
        resolveOffset(last);
        this.#skipped.delete(partitionKey(topic, partition));
        await consumer.commitOffsets([{ topic, partition, offset: next }]);
      } else {
        resolveOffset(last);
        this.#noteSkipped(consumer, topic, partition, next);
      }
    }
    if (wait) {
      // The head may not leave yet, nor anything behind it: read it again once it may.
      consumer.pause([{ topic, partitions: [partition] }]);
      consumer.seek({ topic, partition, offset: wait.offset });
      const timer = setTimeout(() => {
        this.#resumeTimers.delete(timer);
        if (!this.#stopped) consumer.resume([{ topic, partitions: [partition] }]);
      }, wait.leave - now);
      this.#resumeTimers.add(timer);
    }
  }

  async #forward(message: KafkaMessage, notBefore: number, now: number): Promise<void> {
    const hop = nextHop(this.#target, notBefore, now);
    await this.#host.ensureTopic(hop.topic);
    const headers = withoutDelayHeaders(message.headers);
    for (const [key, value] of Object.entries(hop.headers)) headers[key] = value;
    await this.#host.append(hop.topic, message.value, headers);
  }

  /** Skipped records need no hurry: their offsets are committed once a second. */
  #noteSkipped(consumer: Consumer, topic: string, partition: number, offset: string): void {
    this.#skipped.set(partitionKey(topic, partition), { topic, partition, offset });
    this.#skipTimer ??= setTimeout(() => {
      this.#skipTimer = undefined;
      const offsets = [...this.#skipped.values()];
      this.#skipped.clear();
      if (!this.#stopped && offsets.length) consumer.commitOffsets(offsets).catch(() => undefined);
    }, skippedCommitIntervalMs);
  }

  /** Leaves the group; bounded, since a dead connection can keep kafkajs's disconnect waiting. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#skipTimer);
    for (const timer of this.#resumeTimers) clearTimeout(timer);
    this.#resumeTimers.clear();
    const consumer = this.#consumer;
    if (!consumer) return;
    await withDeadline(consumer.disconnect(), leaveTimeoutMs, () => new Error(`the delay forwarder did not leave its group within ${leaveTimeoutMs} ms`)).catch(() => undefined);
  }
}
