import { Cron } from 'croner';
import type { ConfigIssue } from '../errors.js';
import type { SendOptions } from '../producer/send-options.js';
import { parseInterval } from './interval.js';

/** What beat does with ticks that fell due while no beat ran (or during a leader change). */
export type CatchUp = 'none' | 'once' | 'all';

/** The send options a schedule may carry (those that make sense for every firing). */
export type ScheduleSendOptions = Pick<SendOptions, 'queue' | 'priority' | 'timeLimit' | 'softTimeLimit' | 'ignoreResult' | 'headers'> & {
  /** Revoke if not started within this many seconds of being fired. */
  readonly expires?: number;
};

/**
 * One periodic (or one-off) task. Exactly one of `cron`, `every` and `at` says when.
 * Plain JSON, so the same shape sits in tq.config.json, the API and the CLI.
 */
export interface ScheduleDefinition {
  /** The task name, as registered (it may live only in a Python Celery worker). */
  readonly task: string;
  readonly args?: readonly unknown[];
  readonly kwargs?: Readonly<Record<string, unknown>>;
  readonly options?: ScheduleSendOptions;
  /** Standard cron: 5 fields (minute first) or 6 (seconds first). */
  readonly cron?: string;
  /** IANA time zone for `cron`, e.g. 'Europe/Paris'. Default UTC. */
  readonly timezone?: string;
  /** Fixed interval: ms, or '30s', '5m', '1h30m', '1d'. Ticks are counted from when beat first saw the entry. */
  readonly every?: string | number;
  /** One run at this time (ISO 8601 or epoch ms); the entry stays, done, until removed. */
  readonly at?: string | number;
  /** Default 'once': missed ticks collapse into one run. 'all' runs every missed tick, 'none' skips them. */
  readonly catchUp?: CatchUp;
  /** A paused entry fires nothing; its missed ticks follow catchUp when it resumes. */
  readonly paused?: boolean;
}

export const catchUpPolicies: readonly CatchUp[] = ['none', 'once', 'all'];
const namePattern = /^[A-Za-z0-9_.:-]{1,200}$/;

/** Every problem with a definition, with paths under `path` (empty when valid). */
export function scheduleIssues(name: string, definition: unknown, path = `schedules.${name}`): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (!namePattern.test(name)) issues.push({ path, message: 'a schedule name is 1-200 characters of letters, digits, _ . : -' });
  if (definition === null || typeof definition !== 'object' || Array.isArray(definition)) return [...issues, { path, message: 'expected an object with task and one of cron, every, at' }];
  const d = definition as Record<string, unknown>;
  if (typeof d['task'] !== 'string' || d['task'] === '') issues.push({ path: `${path}.task`, message: 'expected a task name' });
  if (d['args'] !== undefined && !Array.isArray(d['args'])) issues.push({ path: `${path}.args`, message: 'expected an array' });
  const isObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (d['kwargs'] !== undefined && !isObject(d['kwargs'])) issues.push({ path: `${path}.kwargs`, message: 'expected an object' });
  if (d['options'] !== undefined && !isObject(d['options'])) issues.push({ path: `${path}.options`, message: 'expected an object' });
  else if (d['options'] !== undefined) issues.push(...optionIssues(d['options'] as Record<string, unknown>, `${path}.options`));
  const when = (['cron', 'every', 'at'] as const).filter((k) => d[k] !== undefined);
  if (when.length !== 1) issues.push({ path, message: `give exactly one of cron, every, at (got ${when.length ? when.join(', ') : 'none'})` });
  if (d['timezone'] !== undefined && d['cron'] === undefined) issues.push({ path: `${path}.timezone`, message: 'timezone applies to cron only' });
  if (d['cron'] !== undefined) {
    if (typeof d['cron'] !== 'string') issues.push({ path: `${path}.cron`, message: 'expected a cron expression string' });
    else if (d['cron'].trim().split(/\s+/).length > 6) issues.push({ path: `${path}.cron`, message: 'expected 5 or 6 fields' });
    else {
      try {
        const timezone = typeof d['timezone'] === 'string' ? d['timezone'] : undefined;
        new Cron(d['cron'], { paused: true, ...(timezone ? { timezone } : {}) }).nextRun();
      } catch (error) {
        issues.push({ path: `${path}.${/timezone/i.test((error as Error).message) ? 'timezone' : 'cron'}`, message: (error as Error).message });
      }
    }
  }
  if (d['every'] !== undefined && (!(typeof d['every'] === 'string' || typeof d['every'] === 'number') || parseInterval(d['every']) === undefined)) {
    issues.push({ path: `${path}.every`, message: `expected a positive duration such as '30s', '5m', '1h30m' or ms, got ${JSON.stringify(d['every'])}` });
  }
  if (d['at'] !== undefined && !(typeof d['at'] === 'string' || typeof d['at'] === 'number') || (d['at'] !== undefined && Number.isNaN(new Date(d['at'] as string).getTime()))) {
    issues.push({ path: `${path}.at`, message: `expected an ISO 8601 time or epoch ms, got ${JSON.stringify(d['at'])}` });
  }
  if (d['catchUp'] !== undefined && !catchUpPolicies.includes(d['catchUp'] as CatchUp)) issues.push({ path: `${path}.catchUp`, message: `expected one of ${catchUpPolicies.join(', ')}` });
  if (d['paused'] !== undefined && typeof d['paused'] !== 'boolean') issues.push({ path: `${path}.paused`, message: 'expected true or false' });
  return issues;
}

/** What decides the ticks: when it changes, beat starts the entry afresh instead of catching up. */
export function timingKey(definition: ScheduleDefinition): string {
  return JSON.stringify([definition.cron ?? null, definition.timezone ?? null, definition.every ?? null, definition.at ?? null]);
}

const sendOptionNames = new Set(['queue', 'priority', 'expires', 'timeLimit', 'softTimeLimit', 'ignoreResult', 'headers']);

function optionIssues(options: Record<string, unknown>, path: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const key of Object.keys(options)) if (!sendOptionNames.has(key)) issues.push({ path: `${path}.${key}`, message: `unknown option (expected ${[...sendOptionNames].join(', ')})` });
  if (options['queue'] !== undefined && (typeof options['queue'] !== 'string' || options['queue'] === '')) issues.push({ path: `${path}.queue`, message: 'expected a queue name' });
  const priority = options['priority'];
  if (priority !== undefined && !(Number.isInteger(priority) && (priority as number) >= 0 && (priority as number) <= 255)) issues.push({ path: `${path}.priority`, message: 'expected an integer 0..255' });
  for (const key of ['expires', 'timeLimit', 'softTimeLimit']) {
    const value = options[key];
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) issues.push({ path: `${path}.${key}`, message: 'expected a positive number of seconds' });
  }
  if (options['ignoreResult'] !== undefined && typeof options['ignoreResult'] !== 'boolean') issues.push({ path: `${path}.ignoreResult`, message: 'expected true or false' });
  const headers = options['headers'];
  if (headers !== undefined && (headers === null || typeof headers !== 'object' || Array.isArray(headers))) issues.push({ path: `${path}.headers`, message: 'expected an object' });
  return issues;
}
