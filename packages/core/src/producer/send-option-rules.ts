import { nearest } from '../adapters/resolve.js';
import { InvalidOptionError } from '../errors.js';
import type { ConfigIssue } from '../errors.js';
import type { SendOptions } from './send-options.js';

/**
 * One rule per send option: `check` returns null when the value is acceptable, else what is
 * allowed. The only place send options are validated: a new option is one more row here (and a
 * field in SendOptions), and an unknown name is rejected with the nearest known one.
 */
export interface SendOptionRule {
  /** What is allowed, for the error: 'an integer 0..9'. */
  readonly allowed: string;
  /** True when `value` (never undefined) is acceptable. */
  readonly check: (value: unknown) => boolean;
}

const isString = (value: unknown): boolean => typeof value === 'string';
const isNonEmptyString = (value: unknown): boolean => typeof value === 'string' && value.length > 0;
const isFiniteNumber = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value);
const isPositiveNumber = (value: unknown): boolean => isFiniteNumber(value) && (value as number) > 0;
const isCount = (value: unknown): boolean => Number.isSafeInteger(value) && (value as number) >= 0;
const isTime = (value: unknown): boolean =>
  (value instanceof Date || typeof value === 'string') && !Number.isNaN(new Date(value as Date | string).getTime());
const isPlainObject = (value: unknown): boolean => value !== null && typeof value === 'object' && !Array.isArray(value);
const orNull = (check: (value: unknown) => boolean) => (value: unknown) => value === null || check(value);

/** Typed against SendOptions: a field added there without a rule here fails the typecheck. */
export const sendOptionRules: Readonly<Record<keyof SendOptions, SendOptionRule>> = {
  queue: { allowed: 'a non-empty queue name', check: isNonEmptyString },
  countdown: { allowed: 'a finite number of seconds', check: isFiniteNumber },
  eta: { allowed: 'a valid Date or an ISO 8601 date string', check: isTime },
  expires: { allowed: 'a valid Date, an ISO 8601 date string, or a finite number of seconds', check: (v) => isTime(v) || isFiniteNumber(v) },
  priority: { allowed: 'an integer 0..9', check: (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 9 },
  timeLimit: { allowed: 'a number of seconds > 0', check: isPositiveNumber },
  softTimeLimit: { allowed: 'a number of seconds > 0', check: isPositiveNumber },
  taskId: { allowed: 'a non-empty string', check: isNonEmptyString },
  ignoreResult: { allowed: 'true or false', check: (v) => typeof v === 'boolean' },
  headers: { allowed: 'an object of header names to values', check: isPlainObject },
  retries: { allowed: 'an integer >= 0', check: isCount },
  parentId: { allowed: 'a string or null', check: orNull(isString) },
  rootId: { allowed: 'a string or null', check: orNull(isString) },
  group: { allowed: 'a string or null', check: orNull(isString) },
  groupIndex: { allowed: 'an integer >= 0 or null', check: orNull(isCount) },
  embed: { allowed: 'an object (callbacks, errbacks, chain, chord)', check: isPlainObject },
  shadow: { allowed: 'a string', check: isString },
  replyTo: { allowed: 'a non-empty string (a reply queue)', check: isNonEmptyString },
  transaction: { allowed: 'a database client inside a transaction (e.g. node-postgres after BEGIN)', check: (v) => v !== null && typeof v === 'object' },
  brokerDeduplication: { allowed: 'true or false (true needs taskId)', check: (v) => typeof v === 'boolean' },
  runOnce: { allowed: 'true or false (true needs taskId)', check: (v) => typeof v === 'boolean' },
  dedupe: {
    allowed: '{ key: a non-empty string, ttl: seconds > 0 }',
    check: (v) => isPlainObject(v) && isNonEmptyString((v as { key?: unknown }).key) && isPositiveNumber((v as { ttl?: unknown }).ttl),
  },
};

/** Throws InvalidOptionError listing every unknown option and every value out of its range. */
export function validateSendOptions(options: object, rules: Readonly<Record<string, SendOptionRule>> = sendOptionRules): void {
  let issues: ConfigIssue[] | undefined;
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const rule = Object.hasOwn(rules, name) ? rules[name] : undefined;
    if (rule === undefined) {
      const suggestion = nearest(name, Object.keys(rules));
      (issues ??= []).push({ path: name, message: `unknown option${suggestion ? ` (did you mean "${suggestion}"?)` : ''}` });
    } else if (!rule.check(value)) {
      (issues ??= []).push({ path: name, message: `expected ${rule.allowed}, got ${describe(value)}` });
    }
  }
  if (issues) throw new InvalidOptionError(issues);
}

function describe(value: unknown): string {
  if (value instanceof Date) return 'an invalid Date';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return Array.isArray(value) ? 'an array' : typeof value;
}
