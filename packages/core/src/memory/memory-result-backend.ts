import type { ChordPart, ResultBackend, ResultBackendCapabilities, StoreOptions } from '../backend/result-backend.js';
import { DeliveryBuffer } from '../broker/delivery-buffer.js';
import { ClosedError } from '../errors.js';

/** Shared state of every MemoryResultBackend opened on the same memory://name. */
export class MemoryResultStore {
  readonly records = new Map<string, { bytes: Uint8Array; expiresAt: number | null }>();
  readonly watchers = new Map<string, Set<DeliveryBuffer<Uint8Array>>>();
  /** Saved groups (GroupResult.save) by group id. */
  readonly groups = new Map<string, Uint8Array>();
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
    this.capabilities = { watch: true, expiry: true, chordJoin: options.chordJoin ?? true };
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
    this.#store.groups.set(groupId, new Uint8Array(record));
  }

  async fetchGroup(groupId: string): Promise<Uint8Array | null> {
    this.#assertOpen();
    return this.#store.groups.get(groupId) ?? null;
  }

  async forgetGroup(groupId: string): Promise<void> {
    this.#assertOpen();
    this.#store.groups.delete(groupId);
  }

  async forget(taskId: string): Promise<void> {
    this.#assertOpen();
    this.#store.records.delete(taskId);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
