import { Cron } from 'croner';
import { parseInterval } from './interval.js';
import type { ScheduleDefinition } from './schedule-entry.js';

/**
 * The ticks of one schedule: moments (epoch ms) at which it is due. Cron ticks come from
 * croner, which follows the time zone's DST rules: a local time skipped by spring-forward
 * runs once at the next valid time, a local time repeated by fall-back runs once.
 */
export class Ticks {
  readonly #cron: Cron | undefined;
  readonly #everyMs: number | undefined;
  readonly #at: number | undefined;
  /** Where `every` ticks are counted from: anchor + k·interval. */
  readonly #anchor: number;

  constructor(definition: ScheduleDefinition, anchor: number) {
    this.#anchor = anchor;
    if (definition.cron !== undefined) this.#cron = new Cron(definition.cron, { paused: true, ...(definition.timezone ? { timezone: definition.timezone } : {}) });
    else if (definition.every !== undefined) this.#everyMs = parseInterval(definition.every);
    else if (definition.at !== undefined) this.#at = new Date(definition.at).getTime();
  }

  /** The first tick strictly after `after`, or null when there is none (a past one-off). */
  next(after: number): number | null {
    if (this.#cron) return this.#cron.nextRun(new Date(after))?.getTime() ?? null;
    if (this.#everyMs !== undefined) {
      const k = Math.floor((after - this.#anchor) / this.#everyMs) + 1;
      return this.#anchor + Math.max(k, 1) * this.#everyMs;
    }
    return this.#at !== undefined && this.#at > after ? this.#at : null;
  }

  /** Ticks in (after, until], oldest first, at most `limit` of them. */
  between(after: number, until: number, limit: number): number[] {
    const ticks: number[] = [];
    for (let t = this.next(after); t !== null && t <= until && ticks.length < limit; t = this.next(t)) ticks.push(t);
    return ticks;
  }

  /** The latest tick in (after, until], or null: without walking every tick in between (a 1 s schedule after a week off). */
  latest(after: number, until: number): number | null {
    if (this.#everyMs !== undefined) {
      const k = Math.floor((until - this.#anchor) / this.#everyMs);
      const t = this.#anchor + k * this.#everyMs;
      return k >= 1 && t > after ? t : null;
    }
    if (this.#at !== undefined) return this.#at > after && this.#at <= until ? this.#at : null;
    let last: number | null = null;
    // croner has no previous(): walk the ticks (a per-second cron after a day off is 86,400 steps).
    for (let t = this.next(after); t !== null && t <= until; t = this.next(t)) last = t;
    return last;
  }
}
