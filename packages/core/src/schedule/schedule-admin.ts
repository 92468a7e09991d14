import { ConfigError } from '../errors.js';
import type { Beat } from './beat.js';
import { bookKey, emptyBook, emptyState, readRecord, stateKey, writeRecord, type ScheduleBook } from './beat-state.js';
import { assertSchedule } from './assert-schedule.js';
import type { ScheduleDefinition } from './schedule-entry.js';
import { timingKey } from './schedule-entry.js';
import { Ticks } from './ticks.js';

/** One line of `list()`. */
export interface ScheduleListing {
  readonly name: string;
  readonly definition: ScheduleDefinition;
  /** Where the entry is defined; a runtime entry of the same name overrides the others. */
  readonly source: 'config' | 'code' | 'runtime';
  readonly paused: boolean;
  /** The next tick, by the stored progress (null: a one-off done, or paused). */
  readonly nextRun: Date | null;
  readonly lastRun: Date | null;
  readonly fired: number;
}

/**
 * Runtime edits of a beat namespace's schedules, kept in the store (compare-and-set, retried
 * on a concurrent edit), so every beat on that store sees them on its next round.
 */
export class ScheduleAdmin {
  readonly #beat: Beat;

  constructor(beat: Beat) {
    this.#beat = beat;
  }

  async #edit(change: (book: ScheduleBook) => ScheduleBook): Promise<void> {
    const { backend } = await this.#beat.store();
    const key = bookKey(this.#beat.namespace);
    for (;;) {
      const current = await readRecord(backend, key, emptyBook);
      if ((await writeRecord(backend, key, change(current.value), current.version)) !== null) return;
    }
  }

  #codeSource(name: string): 'config' | 'code' | undefined {
    if (this.#beat.app.schedules.has(name)) return 'code';
    return name in this.#beat.app.config.schedules ? 'config' : undefined;
  }

  /** Adds a runtime schedule; a name already in use (code, config or runtime) is an error. */
  async add(name: string, definition: ScheduleDefinition): Promise<void> {
    assertSchedule(name, definition);
    if (this.#codeSource(name)) throw new ConfigError([{ path: `schedules.${name}`, message: `already defined in ${this.#codeSource(name)}: use update to override it` }]);
    await this.#edit((book) => {
      if (book.entries[name]) throw new ConfigError([{ path: `schedules.${name}`, message: 'a schedule with this name exists: use update' }]);
      return { ...book, entries: { ...book.entries, [name]: definition } };
    });
  }

  /** Replaces (or, for a code/config entry, overrides) a schedule. */
  async update(name: string, definition: ScheduleDefinition): Promise<void> {
    assertSchedule(name, definition);
    await this.#edit((book) => {
      if (!book.entries[name] && !this.#codeSource(name)) throw unknown(name);
      return { ...book, entries: { ...book.entries, [name]: definition } };
    });
  }

  /** Removes a runtime schedule (a code or config entry can only be paused). */
  async remove(name: string): Promise<void> {
    await this.#edit((book) => {
      if (!book.entries[name]) {
        throw this.#codeSource(name) ? new ConfigError([{ path: `schedules.${name}`, message: `defined in ${this.#codeSource(name)}: pause it instead, or remove it there` }]) : unknown(name);
      }
      const { [name]: _removed, ...entries } = book.entries;
      const { [name]: _pause, ...paused } = book.paused;
      return { entries, paused };
    });
  }

  /** Pauses (or with `false` resumes) any schedule. Ticks missed while paused follow its catchUp on resume. */
  async pause(name: string, paused = true): Promise<void> {
    await this.#edit((book) => {
      if (!book.entries[name] && !this.#codeSource(name)) throw unknown(name);
      const { [name]: _was, ...rest } = book.paused;
      return { ...book, paused: paused ? { ...rest, [name]: true } : rest };
    });
  }

  resume(name: string): Promise<void> {
    return this.pause(name, false);
  }

  /** Every schedule with its source, pause and next run time. */
  async list(now = Date.now()): Promise<ScheduleListing[]> {
    const { backend } = await this.#beat.store();
    const [state, book] = await Promise.all([readRecord(backend, stateKey(this.#beat.namespace), emptyState), readRecord(backend, bookKey(this.#beat.namespace), emptyBook)]);
    const definitions = await this.#beat.definitions(book.value);
    return [...definitions].map(([name, definition]) => {
      const stored = state.value.entries[name];
      const progress = stored && stored.timing === timingKey(definition) ? stored : undefined;
      const ticks = new Ticks(definition, progress?.anchor ?? now);
      const next = definition.paused ? null : ticks.next(progress?.last ?? (definition.at !== undefined ? Math.min(now, new Date(definition.at).getTime() - 1) : now));
      return {
        name,
        definition,
        source: book.value.entries[name] ? 'runtime' : (this.#codeSource(name) ?? 'runtime'),
        paused: definition.paused === true,
        nextRun: next === null ? null : new Date(next),
        lastRun: progress?.firedAt !== undefined ? new Date(progress.firedAt) : null,
        fired: progress?.fired ?? 0,
      };
    });
  }
}

function unknown(name: string): ConfigError {
  return new ConfigError([{ path: `schedules.${name}`, message: 'no schedule with this name' }]);
}
