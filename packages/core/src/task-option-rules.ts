import { ConfigError, type ConfigIssue } from './errors.js';
import type { TaskOptions } from './task.js';
import { parseRate } from './worker/rate-limit.js';

/**
 * Checks the values of a task's options at registration, so a bad one fails `app.task()` with a
 * ConfigError instead of failing (or stalling) each message at run time. Options not listed here
 * are not checked; unknown option names are not rejected (TypeScript already does that).
 */
export function validateTaskOptions(taskName: string, options: Partial<TaskOptions>): void {
  const issues: ConfigIssue[] = [];
  const issue = (option: string, message: string) => issues.push({ path: `tasks.${taskName}.${option}`, message });
  if (options.rateLimit !== undefined) {
    try {
      parseRate(options.rateLimit);
    } catch (error) {
      const first = error instanceof ConfigError ? error.issues[0]?.message : (error as Error).message;
      issue('rateLimit', first ?? 'not a rate');
    }
  }
  const positive = (option: 'timeLimit' | 'softTimeLimit' | 'retryBackoffMax') => {
    const value = options[option];
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) issue(option, `expected a number of seconds > 0, got ${String(value)}`);
  };
  positive('timeLimit');
  positive('softTimeLimit');
  positive('retryBackoffMax');
  if (options.maxRetries !== undefined && !(Number.isSafeInteger(options.maxRetries) && options.maxRetries >= 0)) {
    issue('maxRetries', `expected an integer >= 0, got ${String(options.maxRetries)}`);
  }
  if (options.defaultRetryDelay !== undefined && !(typeof options.defaultRetryDelay === 'number' && Number.isFinite(options.defaultRetryDelay) && options.defaultRetryDelay >= 0)) {
    issue('defaultRetryDelay', `expected a number of seconds >= 0, got ${String(options.defaultRetryDelay)}`);
  }
  if (options.queue !== undefined && !(typeof options.queue === 'string' && options.queue.length > 0)) issue('queue', 'expected a non-empty queue name');
  if (options.rateLimitKey !== undefined && typeof options.rateLimitKey !== 'function') issue('rateLimitKey', 'expected a function (args, kwargs) => string');
  if (options.keepResults !== undefined) {
    const keep = options.keepResults as Record<string, unknown>;
    for (const [name, value] of Object.entries(keep)) {
      if (name !== 'succeeded' && name !== 'failed' && name !== 'maxBytes') issue(`keepResults.${name}`, 'unknown field (known: succeeded, failed, maxBytes)');
      else if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= 1)) issue(`keepResults.${name}`, `expected an integer >= 1, got ${String(value)}`);
    }
  }
  if (options.params !== undefined) {
    const names = Array.isArray(options.params) ? options.params.map((p) => (typeof p === 'string' ? p.replace(/\?$/, '') : '')) : [];
    if (!Array.isArray(options.params) || names.some((n) => n === '')) issue('params', 'expected an array of parameter names, e.g. ["x", "y", "z?"]');
    else if (new Set(names).size !== names.length) issue('params', 'parameter names must be unique');
  }
  if (issues.length > 0) throw new ConfigError(issues);
}
