import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type StoredMsg } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Empty, headers as natsHeaders, nuid, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { ClosedError, DeliveryBuffer, type AdapterOptions, type ChordPart, type ResultBackend, type ResultBackendCapabilities, type StoreOptions, type VersionedValue } from '@tq/core/adapter';
import { openConnection } from './connection.js';
import { toTqError } from './errors.js';
import type { NatsResultBackendOptions } from './options.js';
import { escapeToken, resultKey } from './subjects.js';

/** Epoch ms after which a record reads as absent (the server lacks per-message TTL before 2.11). */
export const expiresAtHeader = 'Tq-Expires-At';
/** On a record too large for one message: how many chunks, and the id of the chunk set. */
export const chunksHeader = 'Tq-Chunks';
export const chunkSetHeader = 'Tq-Chunk-Set';
const kvOperationHeader = 'KV-Operation';
/** JetStream's answer to a publish whose expected last subject sequence is not the current one. */
const wrongLastSequence = 10071;
// Room left in each message for headers and protocol framing.
const headerRoomBytes = 8 * 1024;

interface Connected {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly kv: KV;
}

/**
 * Result records in a JetStream KV bucket, key = task id. The bucket's max age (bucketTtlMs)
 * removes records for good; a shorter per-store ttlMs is honoured on read through the
 * Tq-Expires-At header each record carries. watch() follows the key with an ordered consumer
 * (last value first, then updates), so waiting clients are pushed results instead of polling.
 *
 * A record larger than the server's max_payload (1 MiB by default) is split: its chunks go to
 * keys `<key>.<set>.<n>` first, then the record key gets an empty value with Tq-Chunks and
 * Tq-Chunk-Set headers. Readers see either the old record or the whole new one, never a mix;
 * forget() purges `<key>` and every chunk set; superseded chunk sets go with the bucket TTL.
 */
export class KvResultBackend implements ResultBackend {
  readonly capabilities: ResultBackendCapabilities = { watch: true, expiry: true, claim: true, compareAndSet: true, chordJoin: true };
  readonly #options: NatsResultBackendOptions;
  readonly #adapterOptions: AdapterOptions;
  #connected: Connected | undefined;
  /** The bucket of coordination records (beat), opened on first use: no TTL, unlike results. */
  #coordination: Promise<KV> | undefined;
  #closed = false;
  readonly #watches = new Set<() => void>();

  constructor(options: NatsResultBackendOptions, adapterOptions: AdapterOptions = {}) {
    this.#options = options;
    this.#adapterOptions = adapterOptions;
  }

  get #streamName(): string {
    return `KV_${this.#options.bucket}`;
  }

  #subject(taskId: string): string {
    return `$KV.${this.#options.bucket}.${resultKey(taskId)}`;
  }

  async connect(): Promise<void> {
    if (this.#closed) throw new ClosedError('nats result backend');
    if (this.#connected) return;
    const nc = await openConnection(this.#options, this.#adapterOptions, true);
    try {
      const js = jetstream(nc);
      const jsm = await jetstreamManager(nc);
      // create() opens the bucket when it exists with the same settings, else makes it.
      const kv = await createBucket(js, this.#options.bucket, {
        history: 1,
        ttl: this.#options.bucketTtlMs,
        replicas: this.#options.replicas,
      });
      this.#connected = { nc, js, jsm, kv };
    } catch (error) {
      await nc.close().catch(() => undefined);
      throw toTqError(error, `opening KV bucket ${this.#options.bucket} on ${this.#options.redacted}`, { backend: true, connecting: true });
    }
  }

  #coordinationBucket(): Promise<KV> {
    const { js } = this.#live();
    this.#coordination ??= createBucket(js, `${this.#options.bucket}-coord`, { history: 1, replicas: this.#options.replicas });
    this.#coordination.catch(() => (this.#coordination = undefined));
    return this.#coordination;
  }

  /** The KV revision is the version: compare-and-set is the server's expected-last-sequence check. */
  async getVersioned(key: string): Promise<VersionedValue | null> {
    try {
      const entry = await (await this.#coordinationBucket()).get(key);
      if (!entry || entry.operation !== 'PUT') return null;
      return { value: new Uint8Array(entry.value), version: String(entry.revision) };
    } catch (error) {
      throw toTqError(error, `reading coordination record ${key}`, { backend: true });
    }
  }

  async compareAndSet(key: string, value: Uint8Array, expected: string | null): Promise<string | null> {
    try {
      const kv = await this.#coordinationBucket();
      return String(await kv.put(key, value, { previousSeq: expected === null ? 0 : Number(expected) }));
    } catch (error) {
      if ((error as { code?: unknown }).code === wrongLastSequence) return null;
      throw toTqError(error, `writing coordination record ${key}`, { backend: true });
    }
  }

  #live(): Connected {
    if (this.#closed) throw new ClosedError('nats result backend');
    if (!this.#connected) throw new ClosedError('nats result backend (not connected)');
    return this.#connected;
  }

  async store(taskId: string, record: Uint8Array, options: StoreOptions): Promise<void> {
    const { js, nc } = this.#live();
    const ttlMs = options.ttlMs ?? this.#options.resultTtlMs;
    // A plain KV put cannot carry headers, so publish to the key's subject as kv.put does.
    const h = natsHeaders();
    if (ttlMs > 0) h.set(expiresAtHeader, String(Date.now() + ttlMs));
    const chunkBytes = (nc.info?.max_payload ?? 1024 * 1024) - headerRoomBytes;
    const expect = { streamName: this.#streamName };
    try {
      if (record.byteLength <= chunkBytes) {
        await js.publish(this.#subject(taskId), record, { headers: h, expect });
        return;
      }
      const set = nuid.next();
      const count = Math.ceil(record.byteLength / chunkBytes);
      await Promise.all(
        Array.from({ length: count }, (_, i) =>
          js.publish(this.#chunkSubject(taskId, set, i), record.subarray(i * chunkBytes, (i + 1) * chunkBytes), { expect }),
        ),
      );
      h.set(chunksHeader, String(count));
      h.set(chunkSetHeader, set);
      await js.publish(this.#subject(taskId), Empty, { headers: h, expect });
    } catch (error) {
      throw toTqError(error, `storing the result of ${taskId}`, { backend: true });
    }
  }

  #chunkSubject(taskId: string, set: string, index: number): string {
    return `${this.#subject(taskId)}.${set}.${index}`;
  }

  /** The record bytes behind a stored message: itself, null (deleted/expired), or its chunks joined. */
  async #resolve(taskId: string, headers: MsgHdrs | undefined, data: Uint8Array): Promise<Uint8Array | null> {
    const value = liveValue(headers, data);
    if (value === null || !headers?.has(chunksHeader)) return value === null ? null : new Uint8Array(value);
    const { jsm } = this.#live();
    const count = Number(headers.get(chunksHeader));
    const set = headers.get(chunkSetHeader);
    const chunks = await Promise.all(
      Array.from({ length: count }, (_, i) => jsm.direct.getMessage(this.#streamName, { last_by_subj: this.#chunkSubject(taskId, set, i) })),
    );
    // A chunk gone (bucket TTL, forget racing) means the record is gone.
    if (chunks.some((c) => !c)) return null;
    const out = new Uint8Array(chunks.reduce((n, c) => n + c!.data.byteLength, 0));
    let offset = 0;
    for (const chunk of chunks) {
      out.set(chunk!.data, offset);
      offset += chunk!.data.byteLength;
    }
    return out;
  }

  async fetch(taskId: string): Promise<Uint8Array | null> {
    const { jsm } = this.#live();
    let stored: StoredMsg | null;
    try {
      stored = await jsm.direct.getMessage(this.#streamName, { last_by_subj: this.#subject(taskId) });
    } catch (error) {
      if (isNotFound(error)) return null;
      throw toTqError(error, `fetching the result of ${taskId}`, { backend: true });
    }
    if (!stored) return null;
    try {
      return await this.#resolve(taskId, stored.header, stored.data);
    } catch (error) {
      throw toTqError(error, `fetching the result of ${taskId}`, { backend: true });
    }
  }

  watch(taskId: string, signal: AbortSignal): AsyncIterable<Uint8Array> {
    const { js } = this.#live();
    const buffer: DeliveryBuffer<Uint8Array> = new DeliveryBuffer({ signal, onClose: () => stop() });
    let stopped = false;
    let stopIterator: (() => void) | undefined;
    const stop = () => {
      stopped = true;
      stopIterator?.();
      this.#watches.delete(stop);
    };
    this.#watches.add(stop);
    void (async () => {
      try {
        // An ordered consumer re-creates itself after a failover and never misses a sequence.
        const consumer = await js.consumers.get(this.#streamName, {
          // A single string becomes filter_subject, which servers before 2.10 understand.
          filter_subjects: this.#subject(taskId),
          deliver_policy: DeliverPolicy.LastPerSubject,
        });
        const messages = await consumer.consume();
        stopIterator = () => messages.stop();
        if (stopped) messages.stop();
        for await (const msg of messages) {
          const value = await this.#resolve(taskId, msg.headers, msg.data);
          if (value) buffer.push(value);
        }
        buffer.end();
      } catch (error) {
        if (stopped) buffer.end();
        else buffer.fail(toTqError(error, `watching the result of ${taskId}`, { backend: true }));
      }
    })();
    return buffer;
  }

  /** A claim's key: outside the task-id space (escapeToken never writes '_tq_claim.'). */
  #claimSubject(key: string): string {
    return `$KV.${this.#options.bucket}._tq_claim.${resultKey(key)}`;
  }

  /** The claim's last message and its sequence (0 when none): the base of a compare-and-set. */
  async #lastClaim(subject: string): Promise<{ seq: number; value: string | null }> {
    const { jsm } = this.#live();
    let stored: StoredMsg | null;
    try {
      stored = await jsm.direct.getMessage(this.#streamName, { last_by_subj: subject });
    } catch (error) {
      if (isNotFound(error)) return { seq: 0, value: null };
      throw error;
    }
    if (!stored) return { seq: 0, value: null };
    const live = liveValue(stored.header, stored.data);
    return { seq: stored.seq, value: live === null ? null : new TextDecoder().decode(live) };
  }

  /**
   * Create-if-absent as JetStream's compare-and-set: publish with the expected last sequence of
   * the claim's subject (0 = none), so of two racing claimers the server accepts one. An expired
   * or released claim is replaced the same way, based on its sequence.
   */
  async claim(key: string, value: string, ttlMs: number): Promise<string | null> {
    const { js } = this.#live();
    const subject = this.#claimSubject(key);
    try {
      for (let attempt = 0; ; attempt++) {
        const last = await this.#lastClaim(subject);
        if (last.value !== null) return last.value;
        const h = natsHeaders();
        h.set(expiresAtHeader, String(Date.now() + ttlMs));
        try {
          await js.publish(subject, new TextEncoder().encode(value), { headers: h, expect: { streamName: this.#streamName, lastSubjectSequence: last.seq } });
          return null;
        } catch (error) {
          // Another claimer got there first: read what it wrote.
          if (!isWrongLastSequence(error) || attempt >= 10) throw error;
        }
      }
    } catch (error) {
      throw toTqError(error, `claiming ${key}`, { backend: true });
    }
  }

  async releaseClaim(key: string, value: string): Promise<void> {
    const { js } = this.#live();
    const subject = this.#claimSubject(key);
    try {
      const last = await this.#lastClaim(subject);
      if (last.value !== value) return;
      const h = natsHeaders();
      h.set(kvOperationHeader, 'DEL');
      await js.publish(subject, Empty, { headers: h, expect: { streamName: this.#streamName, lastSubjectSequence: last.seq } });
    } catch (error) {
      if (isWrongLastSequence(error)) return; // changed meanwhile: no longer ours to release
      throw toTqError(error, `releasing the claim on ${key}`, { backend: true });
    }
  }

  async forget(taskId: string): Promise<void> {
    const { kv, jsm } = this.#live();
    try {
      // Purge, not delete: removes every revision, leaving one marker the bucket TTL clears.
      await kv.purge(resultKey(taskId));
      await jsm.streams.purge(this.#streamName, { filter: `${this.#subject(taskId)}.>` });
    } catch (error) {
      throw toTqError(error, `forgetting the result of ${taskId}`, { backend: true });
    }
  }

  /** The chord's state key: two tokens, so it never meets a result key (one token) or a chunk key (three). */
  #chordKey(groupId: string): string {
    return `tq-chord.${escapeToken(groupId)}`;
  }

  async chordSetSize(groupId: string, size: number): Promise<void> {
    await this.#chordUpdate(groupId, (state) => ({ size, parts: state.parts }));
  }

  /**
   * Adds the part with a compare-and-set on the chord's KV entry (update at the revision read,
   * retried on a conflict): the one update that brings the count of distinct parts to the size
   * completes the chord, and the entry is deleted.
   */
  async chordPartReturn(groupId: string, part: ChordPart): Promise<readonly Uint8Array[] | null> {
    const id = Buffer.from(part.encoded).toString('base64');
    const { before, after } = await this.#chordUpdate(groupId, (state) => ({ size: state.size, parts: { ...state.parts, [id]: part.groupIndex } }));
    const complete = (state: ChordState) => state.size !== null && Object.keys(state.parts).length === state.size;
    if (!complete(after) || complete(before)) return null;
    await this.#live().kv.delete(this.#chordKey(groupId)).catch(() => undefined);
    const order = (index: number | null) => index ?? Number.POSITIVE_INFINITY;
    return Object.entries(after.parts)
      .sort(([, a], [, b]) => order(a) - order(b))
      .map(([encoded]) => new Uint8Array(Buffer.from(encoded, 'base64')));
  }

  async #chordUpdate(groupId: string, change: (state: ChordState) => ChordState): Promise<{ before: ChordState; after: ChordState }> {
    const { kv } = this.#live();
    const key = this.#chordKey(groupId);
    for (let attempt = 0; ; attempt++) {
      try {
        const entry = await kv.get(key);
        const live = entry && entry.operation === 'PUT' && entry.value.byteLength > 0;
        const before: ChordState = live ? (JSON.parse(new TextDecoder().decode(entry.value)) as ChordState) : { size: null, parts: {} };
        const after = change(before);
        const bytes = new TextEncoder().encode(JSON.stringify(after));
        if (entry) await kv.update(key, bytes, entry.revision);
        else await kv.create(key, bytes);
        return { before, after };
      } catch (error) {
        // Another client wrote first (wrong last sequence / key exists): read again and retry.
        if (attempt < 200 && /wrong last sequence|key exists|10071/i.test(String((error as Error).message))) continue;
        throw toTqError(error, `updating chord ${groupId}`, { backend: true });
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const stop of [...this.#watches]) stop();
    await this.#connected?.nc.close().catch(() => undefined);
  }
}

/** A chord join in progress: the size (once the producer set it) and each distinct part (base64) with its group index. */
interface ChordState {
  readonly size: number | null;
  readonly parts: Readonly<Record<string, number | null>>;
}

/** The record bytes, or null for a delete/purge marker or a record past its Tq-Expires-At. */
function liveValue(headers: MsgHdrs | undefined, data: Uint8Array): Uint8Array | null {
  const operation = headers?.get(kvOperationHeader);
  if (operation === 'DEL' || operation === 'PURGE') return null;
  const expiresAt = headers?.get(expiresAtHeader);
  if (expiresAt && Number(expiresAt) <= Date.now()) return null;
  return data;
}

/**
 * Opens bucket `name`, making it first if it does not exist. Two processes that make the same
 * bucket at once (workers starting together on a fresh server) race on its stream, and the server
 * has refused the loser with "subjects overlap with an existing stream" (seen in CI under load).
 */
function createBucket(js: JetStreamClient, name: string, options: Parameters<Kvm['create']>[1]): Promise<KV> {
  return retryCreateRace(() => new Kvm(js).create(name, options));
}

/** `create`, tried again (up to 5 times, 20-100 ms apart) while it fails as the loser of a create race. */
export async function retryCreateRace<T>(create: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await create();
    } catch (error) {
      if (attempt >= 5 || !isCreateRace(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
    }
  }
}

/** JetStream's answers to a stream create that lost to a concurrent create of the same stream. */
function isCreateRace(error: unknown): boolean {
  const code = jetStreamErrorCode(error);
  return code === 10065 || code === 10058 || /subjects overlap|already in use/i.test(String((error as Error).message));
}

/** JetStream's error code of a failed API call (its api_error), else the error's own code. */
function jetStreamErrorCode(error: unknown): unknown {
  return (error as { code?: unknown; api_error?: { err_code?: unknown } }).api_error?.err_code ?? (error as { code?: unknown }).code;
}

function isWrongLastSequence(error: unknown): boolean {
  const code = jetStreamErrorCode(error);
  return code === 10071 || /wrong last sequence/i.test(String((error as Error).message));
}

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 10037 || code === 404 || /no message found|not found/i.test(String((error as Error).message));
}


