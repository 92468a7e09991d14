import type { ChordPart, ResultBackend, ResultBackendCapabilities, StoreOptions, VersionedValue } from '../backend/result-backend.js';
import { DeliveryBuffer } from '../broker/delivery-buffer.js';
import { ClosedError } from '../errors.js';

/** Shared state of every MemoryResultBackend opened on the same memory://name. */
export class MemoryResultStore {
  readonly records = new Map<string, { bytes: Uint8Array; expiresAt: number | null }>();
  readonly watchers = new Map<string, Set<DeliveryBuffer<Uint8Array>>>();
  readonly claims = new Map<string, { value: string; expiresAt: number }>();
  /** Retention groups: task ids, oldest first. */
  readonly groups = new Map<string, string[]>();
  /** Coordination records (beat's lease and schedules), each with a counter as its version. */
  readonly versioned = new Map<string, { value: Uint8Array; version: number }>();
  /** Saved groups (GroupResult.save) by group id. */
  readonly savedGroups = new Map<string, Uint8Array>();
  /** Chord joins in progress: the size set by the producer and the parts reported so far. */
  readonly chords = new Map<string, { size: number | null; parts: Map<string, ChordPart> }>();
}

/** Result records in this process's memory, with expiry and push-based watch. */
export class MemoryResultBackend implements ResultBackend {
  readonly capabilities: ResultBackendCapabilities;
  readonly #store: MemoryResultStore;
  readonly #defaultTtlMs: number;
  #closed = false;

  /** `chordJoin: false` emulates a backend without an atomic chord join (chords then use celery.chord_unlock). */
  constructor(store: MemoryResultStore, options: { defaultTtlMs?: number; chordJoin?: boolean } = {}) {
    this.#store = store;
    this.capabilities = { watch: true, expiry: true, claim: true, retain: true, retainBytes: true, compareAndSet: true, chordJoin: options.chordJoin ?? true };
    this.#defaultTtlMs = options.defaultTtlMs ?? 86_400_000;
  }

  async connect(): Promise<void> {
    this.#assertOpen();
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError('memory result backend');
  }

  async store(taskId: string, record: Uint8Array, options: StoreOptions): Promise<void> {
    this.#assertOpen();
    const ttlMs = options.ttlMs ?? this.#defaultTtlMs;
    const bytes = new Uint8Array(record);
    this.#store.records.set(taskId, { bytes, expiresAt: ttlMs > 0 ? Date.now() + ttlMs : null });
    for (const watcher of this.#store.watchers.get(taskId) ?? []) watcher.push(bytes);
  }

  async fetch(taskId: string): Promise<Uint8Array | null> {
    this.#assertOpen();
    return this.#current(taskId);
  }

  #current(taskId: string): Uint8Array | null {
    const entry = this.#store.records.get(taskId);
    if (!entry) return null;
    if (entry.expiresAt !== null && entry.expiresAt <= Date.now()) {
      this.#store.records.delete(taskId);
      return null;
    }
    return entry.bytes;
  }

  watch(taskId: string, signal: AbortSignal): AsyncIterable<Uint8Array> {
    this.#assertOpen();
    const watchers = this.#store.watchers.get(taskId) ?? new Set();
    this.#store.watchers.set(taskId, watchers);
    const buffer: DeliveryBuffer<Uint8Array> = new DeliveryBuffer({
      signal,
      onClose: () => {
        watchers.delete(buffer);
        if (watchers.size === 0) this.#store.watchers.delete(taskId);
      },
    });
    watchers.add(buffer);
    const current = this.#current(taskId);
    if (current) buffer.push(current);
    return buffer;
  }

  /** Synchronous between check and set, so claims in one process cannot interleave. */
  async claim(key: string, value: string, ttlMs: number): Promise<string | null> {
    this.#assertOpen();
    const now = Date.now();
    const held = this.#store.claims.get(key);
    if (held && held.expiresAt > now) return held.value;
    this.#store.claims.set(key, { value, expiresAt: now + ttlMs });
    return null;
  }

  async retain(group: string, taskId: string, keep: number | null, maxBytes?: number): Promise<void> {
    this.#assertOpen();
    const members = (this.#store.groups.get(group) ?? []).filter((id) => id !== taskId);
    members.push(taskId);
    let excess = keep === null ? 0 : Math.max(0, members.length - keep);
    if (maxBytes !== undefined) {
      // The newest that fit the budget stay (the newest always): count back from it.
      let total = 0;
      for (let i = members.length - 1; i >= 0; i--) {
        total += this.#store.records.get(members[i]!)?.bytes.byteLength ?? 0;
        if (total > maxBytes && i < members.length - 1) {
          excess = Math.max(excess, i + 1);
          break;
        }
      }
    }
    for (const old of members.splice(0, excess)) this.#store.records.delete(old);
    this.#store.groups.set(group, members);
  }

  async releaseClaim(key: string, value: string): Promise<void> {
    this.#assertOpen();
    if (this.#store.claims.get(key)?.value === value) this.#store.claims.delete(key);
  }

  async getVersioned(key: string): Promise<VersionedValue | null> {
    this.#assertOpen();
    const record = this.#store.versioned.get(key);
    return record ? { value: new Uint8Array(record.value), version: String(record.version) } : null;
  }

  async compareAndSet(key: string, value: Uint8Array, expected: string | null): Promise<string | null> {
    this.#assertOpen();
    const current = this.#store.versioned.get(key);
    if ((current ? String(current.version) : null) !== expected) return null;
    const version = (current?.version ?? 0) + 1;
    this.#store.versioned.set(key, { value: new Uint8Array(value), version });
    return String(version);
  }

  async chordSetSize(groupId: string, size: number): Promise<void> {
    this.#assertOpen();
    const chord = this.#chord(groupId);
    chord.size = size;
  }

  #chord(groupId: string): { size: number | null; parts: Map<string, ChordPart> } {
    let chord = this.#store.chords.get(groupId);
    if (!chord) this.#store.chords.set(groupId, (chord = { size: null, parts: new Map() }));
    return chord;
  }

  /** As Redis's sorted set: a part reported twice with the same bytes counts once. */
  async chordPartReturn(groupId: string, part: ChordPart): Promise<readonly Uint8Array[] | null> {
    this.#assertOpen();
    const chord = this.#chord(groupId);
    chord.parts.set(Buffer.from(part.encoded).toString('latin1'), { encoded: new Uint8Array(part.encoded), groupIndex: part.groupIndex });
    if (chord.size === null || chord.parts.size !== chord.size) return null;
    this.#store.chords.delete(groupId);
    const order = (p: ChordPart) => p.groupIndex ?? Number.POSITIVE_INFINITY;
    return [...chord.parts.values()].sort((a, b) => order(a) - order(b)).map((p) => p.encoded);
  }

  async saveGroup(groupId: string, record: Uint8Array): Promise<void> {
    this.#assertOpen();
    this.#store.savedGroups.set(groupId, new Uint8Array(record));
  }

  async fetchGroup(groupId: string): Promise<Uint8Array | null> {
    this.#assertOpen();
    return this.#store.savedGroups.get(groupId) ?? null;
  }

  async forgetGroup(groupId: string): Promise<void> {
    this.#assertOpen();
    this.#store.savedGroups.delete(groupId);
  }

  async forget(taskId: string): Promise<void> {
    this.#assertOpen();
    this.#store.records.delete(taskId);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
