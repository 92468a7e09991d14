import { randomUUID } from 'node:crypto';
import type { App } from '../app.js';
import type { ResultBackend } from '../backend/result-backend.js';
import { ConfigError } from '../errors.js';
import { beatTaskId } from './beat-task-id.js';
import { bookKey, emptyBook, emptyState, readRecord, stateKey, writeRecord, type BeatState, type EntryProgress, type Lease, type PendingTick, type ScheduleBook } from './beat-state.js';
import { systemClock, type Clock } from './clock.js';
import { openCoordinationStore, type CoordinationStore } from './coordination-store.js';
import { ScheduleAdmin } from './schedule-admin.js';
import { timingKey, type ScheduleDefinition } from './schedule-entry.js';
import { Ticks } from './ticks.js';

export interface BeatOptions {
  /** Separates beats of different apps on one store. Default 'default'. [A-Za-z0-9_-]. */
  readonly namespace?: string;
  /** Where the lease, tick state and runtime schedules live (see openCoordinationStore). */
  readonly store?: string | ResultBackend;
  /** How long a leader's lease lasts unless renewed. Default 10 s; a dead leader is replaced after at most this. */
  readonly leaseMs?: number;
  /** How often at most beat wakes to renew its lease, see schedule changes and watch the leader. Default 1 s. */
  readonly pollMs?: number;
  /** With catchUp 'none', a tick later than this is skipped. Default 30 s (above a leader change's delay). */
  readonly graceMs?: number;
  /** With catchUp 'all', at most this many ticks of one entry per round (the rest follow next round). Default 1000. */
  readonly maxCatchUpTicks?: number;
  /** Failed sends of one tick before it is dropped (logged as an error). Default 5. */
  readonly maxSendAttempts?: number;
  /** This beat's name in the lease. Default pid@hostname#random. */
  readonly id?: string;
  readonly clock?: Clock;
}

/** One tick sent. */
export interface FiredTick {
  readonly entry: string;
  readonly task: string;
  readonly tick: number;
  readonly taskId: string;
}

export interface RoundOutcome {
  readonly leader: boolean;
  /** Ticks claimed in this round (and sent, unless a send failed: see `pending`). */
  readonly fired: readonly FiredTick[];
  /** Ticks an earlier round claimed that were sent again in this one (a failed send, or a leader that died before saying it had sent them). */
  readonly resent: readonly FiredTick[];
  /** When beat should run its next round. */
  readonly wakeAt: number;
}

/**
 * The periodic scheduler. Any number of beats may run on one store: each round, a beat reads
 * the shared state record; the lease holder (or anyone, once the lease has run out) claims
 * the due ticks by writing the record back with compare-and-set, then sends them. A beat whose
 * write loses the race sends nothing, so two beats can never claim the same tick.
 *
 * Claimed ticks stay in the record as pending until the leader's next write, after they went
 * out: a leader killed between its claim and its send leaves them to the next leader, which
 * sends them again under the same task id. On a broker that drops repeated publishes itself
 * (capabilities.publishDeduplicationMs: redis, nats, postgres) that repeat is dropped in the same step
 * as the enqueue, so every tick is sent exactly once. Elsewhere (amqp, kafka) ticks are sent
 * with runOnce: a repeat may reach the queue, and tq workers drop it by a claim on the task id
 * in their result backend before running (worker/run-once.ts), so every tick runs once
 * (docs/scheduling.md).
 */
export class Beat {
  readonly app: App;
  readonly id: string;
  readonly namespace: string;
  readonly #options: Required<Pick<BeatOptions, 'leaseMs' | 'pollMs' | 'graceMs' | 'maxCatchUpTicks' | 'maxSendAttempts'>>;
  readonly #clock: Clock;
  readonly #storeOption: string | ResultBackend | undefined;
  #store: Promise<CoordinationStore> | undefined;
  #stop: AbortController | undefined;
  #running: Promise<void> | undefined;
  #token: number | null = null;
  /** Pending ticks this beat has sent since its last write (that write will drop them). */
  #sent = new Set<string>();
  /** Failed sends per pending tick, since the record last said. */
  #failures = new Map<string, number>();

  constructor(app: App, options: BeatOptions = {}) {
    this.app = app;
    this.namespace = options.namespace ?? 'default';
    this.id = options.id ?? `${process.pid}@${app.config.hostname}#${randomUUID().slice(0, 8)}`;
    this.#options = {
      leaseMs: options.leaseMs ?? 10_000,
      pollMs: options.pollMs ?? 1000,
      graceMs: options.graceMs ?? 30_000,
      maxCatchUpTicks: options.maxCatchUpTicks ?? 1000,
      maxSendAttempts: options.maxSendAttempts ?? 5,
    };
    this.#clock = options.clock ?? systemClock;
    this.#storeOption = options.store;
    const issues = [];
    if (!/^[A-Za-z0-9_-]{1,100}$/.test(this.namespace)) issues.push({ path: 'beat.namespace', message: 'expected 1-100 characters of letters, digits, _ and -' });
    for (const key of ['leaseMs', 'pollMs', 'graceMs', 'maxCatchUpTicks', 'maxSendAttempts'] as const) {
      if (!(this.#options[key] > 0)) issues.push({ path: `beat.${key}`, message: `expected a positive number, got ${this.#options[key]}` });
    }
    if (this.#options.pollMs * 2 > this.#options.leaseMs) issues.push({ path: 'beat.pollMs', message: 'must be at most half of leaseMs, so the leader renews its lease in time' });
    if (issues.length) throw new ConfigError(issues);
  }

  /** The coordination store, opened on first use. */
  store(): Promise<CoordinationStore> {
    this.#store ??= openCoordinationStore(this.app, this.#storeOption);
    this.#store.catch(() => (this.#store = undefined));
    return this.#store;
  }

  /** Runtime edits: add, update, pause, resume, remove, list (shared by every beat on the store). */
  get schedules(): ScheduleAdmin {
    return new ScheduleAdmin(this);
  }

  /** The fencing token of this beat's lease while it leads, else null. */
  get token(): number | null {
    return this.#token;
  }

  /** Every entry beat runs: tq.config.json, then app.schedule(), then runtime additions (a later one wins by name). */
  async definitions(book?: ScheduleBook): Promise<Map<string, ScheduleDefinition>> {
    const runtime = book ?? (await readRecord((await this.store()).backend, bookKey(this.namespace), emptyBook)).value;
    const all = new Map<string, ScheduleDefinition>([...Object.entries(this.app.config.schedules), ...this.app.schedules, ...Object.entries(runtime.entries)]);
    for (const name of Object.keys(runtime.paused)) {
      const definition = all.get(name);
      if (definition) all.set(name, { ...definition, paused: true });
    }
    return all;
  }

  /**
   * One round at the clock's now: lead if possible, claim and send the due ticks. Exposed for
   * tests with an injected clock; start() calls it in a loop.
   */
  async round(): Promise<RoundOutcome> {
    const { backend } = await this.store();
    const now = this.#clock.now();
    const [state, book] = await Promise.all([readRecord(backend, stateKey(this.namespace), emptyState), readRecord(backend, bookKey(this.namespace), emptyBook)]);
    const lease = state.value.lease;
    const mine = lease?.holder === this.id && lease.token === this.#token;
    if (lease && !mine && lease.until > now) {
      this.#token = null;
      return { leader: false, fired: [], resent: [], wakeAt: Math.min(lease.until, now + this.#options.pollMs) };
    }
    const definitions = await this.definitions(book.value);
    const entries: Record<string, EntryProgress> = {};
    const fired: FiredTick[] = [];
    let wakeAt = now + this.#options.pollMs;
    for (const [name, definition] of definitions) {
      const progress = this.#progress(state.value.entries[name], definition, now);
      const ticks = new Ticks(definition, progress.anchor);
      const due = definition.paused ? { fire: [] as number[], skipTo: undefined } : this.#due(ticks, definition, progress.last, now);
      const last = due.skipTo ?? progress.last;
      entries[name] = { ...progress, last, ...(due.fire.length ? { firedAt: now, fired: (progress.fired ?? 0) + due.fire.length } : {}) };
      for (const tick of due.fire) fired.push({ entry: name, task: definition.task, tick, taskId: beatTaskId(this.namespace, name, tick) });
      const next = ticks.next(last);
      if (next !== null && !definition.paused) wakeAt = Math.min(wakeAt, Math.max(next, now));
    }
    const carried = this.#carried(state.value.pending ?? [], mine);
    const pending: PendingTick[] = [...carried, ...fired.map((tick) => ({ ...tick, attempts: 0 }))];
    const renewDue = !mine || lease.until - now < this.#options.leaseMs - this.#options.pollMs;
    const changed = fired.length > 0 || JSON.stringify(entries) !== JSON.stringify(state.value.entries) || JSON.stringify(pending) !== JSON.stringify(state.value.pending ?? []);
    if (!renewDue && !changed) return { leader: true, fired: [], resent: [], wakeAt };
    const token = mine ? lease.token : (lease?.token ?? 0) + 1;
    const newLease: Lease = { holder: this.id, token, until: now + this.#options.leaseMs };
    const written = await writeRecord<BeatState>(backend, stateKey(this.namespace), { lease: newLease, entries, pending }, state.version);
    if (written === null) {
      // Another beat wrote first: it leads, or a schedule edit raced this round. Look again soon.
      this.#token = null;
      return { leader: false, fired: [], resent: [], wakeAt: now + Math.min(100, this.#options.pollMs) };
    }
    if (!mine) this.app.logger.info(`beat ${this.id}: leading ${this.namespace} (token ${token})`);
    this.#token = token;
    this.#sent = new Set();
    await this.#send(pending, definitions);
    const resent = carried.map(({ attempts: _attempts, ...tick }) => tick);
    // A failed send, or a pending tick sent again: write soon, so the record stops carrying it.
    if (resent.length > 0 || this.#failures.size > 0) wakeAt = Math.min(wakeAt, now + Math.min(100, this.#options.pollMs));
    return { leader: true, fired, resent, wakeAt };
  }

  /**
   * The record's pending ticks still to send: all of them when this beat has just taken over
   * (it cannot know what the last leader sent), else those whose send failed; a tick that failed
   * maxSendAttempts times is dropped.
   */
  #carried(pending: readonly PendingTick[], mine: boolean): PendingTick[] {
    const carried: PendingTick[] = [];
    for (const tick of pending) {
      if (mine && this.#sent.has(tick.taskId)) continue;
      const attempts = Math.max(tick.attempts, this.#failures.get(tick.taskId) ?? 0);
      if (attempts >= this.#options.maxSendAttempts) {
        this.app.logger.error(`beat: gave up sending ${tick.entry} (${tick.task}) for ${new Date(tick.tick).toISOString()} after ${attempts} failed attempts`);
        continue;
      }
      carried.push({ ...tick, attempts });
    }
    this.#failures.clear();
    return carried;
  }

  #progress(stored: EntryProgress | undefined, definition: ScheduleDefinition, now: number): EntryProgress {
    const timing = timingKey(definition);
    if (stored && stored.timing === timing) return stored;
    // New (or re-timed) entry: ticks from now on; a one-off already past still runs once.
    const at = definition.at !== undefined ? new Date(definition.at).getTime() : undefined;
    return { last: at !== undefined ? Math.min(now, at - 1) : now, anchor: now, timing };
  }

  #due(ticks: Ticks, definition: ScheduleDefinition, last: number, now: number): { fire: number[]; skipTo?: number } {
    const policy = definition.catchUp ?? 'once';
    if (policy === 'all') {
      const fire = ticks.between(last, now, this.#options.maxCatchUpTicks);
      return fire.length ? { fire, skipTo: fire[fire.length - 1]! } : { fire };
    }
    const latest = ticks.latest(last, now);
    if (latest === null) return { fire: [] };
    if (policy === 'none' && now - latest > this.#options.graceMs) return { fire: [], skipTo: latest };
    return { fire: [latest], skipTo: latest };
  }

  async #send(pending: readonly PendingTick[], definitions: Map<string, ScheduleDefinition>): Promise<void> {
    // A tick may be sent again (by a leader that took over): the broker drops the repeat where it
    // can, else tq workers run the id once (runOnce: amqp://, kafka://).
    const deduplication = (await this.app.broker()).capabilities.publishDeduplicationMs !== null ? { brokerDeduplication: true } : { runOnce: true };
    for (const tick of pending) {
      const definition = definitions.get(tick.entry);
      if (!definition) {
        this.app.logger.warn(`beat: ${tick.entry} was removed before its tick at ${new Date(tick.tick).toISOString()} went out; dropped`);
        this.#sent.add(tick.taskId);
        continue;
      }
      const { expires, ...options } = definition.options ?? {};
      try {
        await this.app.sendTask(definition.task, [...(definition.args ?? [])], { ...(definition.kwargs ?? {}) }, {
          ...options,
          ...(expires !== undefined ? { expires } : {}),
          taskId: tick.taskId,
          ...deduplication,
        });
        this.#sent.add(tick.taskId);
        this.app.logger.info(`beat: sent ${definition.task}[${tick.taskId}] for ${tick.entry} at ${new Date(tick.tick).toISOString()}${tick.attempts > 0 ? ` (attempt ${tick.attempts + 1})` : ''}`);
      } catch (error) {
        // Still pending: the next round (of this beat or the next leader) sends it again.
        this.#failures.set(tick.taskId, tick.attempts + 1);
        this.app.logger.error(`beat: could not send ${tick.entry} (${definition.task}) for ${new Date(tick.tick).toISOString()}, will retry: ${(error as Error).message}`);
      }
    }
  }

  /** Runs rounds until stop(). Resolves once running; errors of a round are logged and retried. */
  async start(): Promise<void> {
    if (this.#running) return;
    const names = [...(await this.definitions()).keys()];
    this.app.logger.info(`beat ${this.id}: ${names.length} schedule(s) in ${this.namespace}${names.length ? `: ${names.join(', ')}` : ''}`);
    const stop = (this.#stop = new AbortController());
    this.#running = (async () => {
      while (!stop.signal.aborted) {
        let wakeAt = this.#clock.now() + this.#options.pollMs;
        try {
          wakeAt = (await this.round()).wakeAt;
        } catch (error) {
          this.#token = null;
          this.app.logger.error(`beat ${this.id}: ${(error as Error).message}`);
        }
        await this.#clock.sleep(wakeAt - this.#clock.now(), stop.signal);
      }
    })();
  }

  /** Stops the loop and hands the lease over at once (another beat takes it on its next round). */
  async stop(): Promise<void> {
    this.#stop?.abort();
    await this.#running;
    this.#running = undefined;
    if (this.#token !== null) {
      try {
        const { backend } = await this.store();
        const state = await readRecord(backend, stateKey(this.namespace), emptyState);
        if (state.value.lease?.holder === this.id) {
          const pending = (state.value.pending ?? []).filter((tick) => !this.#sent.has(tick.taskId));
          await writeRecord<BeatState>(backend, stateKey(this.namespace), { ...state.value, lease: { ...state.value.lease, until: 0 }, pending }, state.version);
        }
      } catch (error) {
        this.app.logger.warn(`beat ${this.id}: could not release the lease (it runs out by itself): ${(error as Error).message}`);
      }
      this.#token = null;
    }
    const store = this.#store;
    this.#store = undefined;
    await (await store?.catch(() => undefined))?.close();
  }
}
