/**
 * Every Redis key and channel name the adapter touches, in kombu's layout (kombu/transport/redis.py)
 * so Python Celery producers and workers read and write the same keys. `prefix` is kombu's
 * `global_keyprefix` transport option: set the same value on both sides, or leave it empty.
 */

/** kombu's separator inside priority queue names and binding members ("\x06\x16"). */
export const SEP = '\x06\x16';

/** kombu's default priority steps: one list per step, step 0 being the bare queue name. */
export const DEFAULT_PRIORITY_STEPS: readonly number[] = Object.freeze([0, 3, 6, 9]);

export class RedisKeys {
  readonly prefix: string;
  readonly db: number;

  constructor(prefix: string, db: number) {
    this.prefix = prefix;
    this.db = db;
  }

  /** The list holding `queue`'s messages of one priority step: "celery", "celery\x06\x163", … */
  queue(queue: string, step: number): string {
    return step ? `${this.prefix}${queue}${SEP}${step}` : `${this.prefix}${queue}`;
  }

  /** The set listing the queues bound to `exchange` ("_kombu.binding.celery"). */
  binding(exchange: string): string {
    return `${this.prefix}_kombu.binding.${exchange}`;
  }

  /** One member of a binding set: routing key, pattern and queue joined by SEP. */
  static bindingMember(routingKey: string, pattern: string, queue: string): string {
    return [routingKey, pattern, queue].join(SEP);
  }

  /** Hash: delivery_tag → JSON [envelope, exchange, routing_key] of every unacked delivery. */
  get unacked(): string {
    return `${this.prefix}unacked`;
  }

  /** Sorted set: delivery_tag scored by the epoch seconds it was delivered (or last extended). */
  get unackedIndex(): string {
    return `${this.prefix}unacked_index`;
  }

  /** Lock taken by whoever restores expired deliveries, so only one process does it at a time. */
  get unackedMutex(): string {
    return `${this.prefix}unacked_mutex`;
  }

  /** Pub/sub channel of a broadcast, as kombu names fanout topics ("/0.celery.pidbox"). */
  broadcastChannel(channel: string): string {
    return `${this.prefix}/${this.db}.${channel}`;
  }

  /** A retention group: task ids scored by store time (tq's own). */
  retention(group: string): string {
    return `${this.prefix}tq-retain-${group}`;
  }

  /** The stored sizes of a retention group's records, and their total (keepResults.maxBytes). */
  retentionSizes(group: string): string {
    return `${this.prefix}tq-retain-bytes-${group}`;
  }

  /** A deduplication claim (tq's own; Celery has none). */
  claim(key: string): string {
    return `${this.prefix}tq-dedupe-${key}`;
  }

  /** A coordination record (tq beat's lease, tick state and schedules): a hash {v, n}. */
  coordination(key: string): string {
    return `${this.prefix}tq:coord:${key}`;
  }

  /**
   * Celery's group key (GroupResult.save), and with a suffix its chord join keys: `.j` the
   * sorted set of finished header parts, `.s` the chord size, `.t` the count added later.
   */
  group(groupId: string, suffix: '' | '.j' | '.s' | '.t' = ''): string {
    return `${this.prefix}celery-taskset-meta-${groupId}${suffix}`;
  }

  /** Celery's result key; also the pub/sub channel its redis backend publishes each update on. */
  result(taskId: string): string {
    return `${this.prefix}celery-task-meta-${taskId}`;
  }
}

/** kombu's Channel.priority(): the highest step that is <= the wire priority. */
export function priorityStep(steps: readonly number[], wirePriority: number): number {
  let chosen = steps[0] ?? 0;
  for (const step of steps) if (step <= wirePriority) chosen = step;
  return chosen;
}
