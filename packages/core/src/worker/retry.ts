import type { TaskOptions } from '../task.js';

/**
 * Seconds before automatic retry number `retries + 1`: exponential from `retryBackoff`
 * (seconds; true = 1), capped by `retryBackoffMax`, with full jitter unless disabled —
 * Celery's get_exponential_backoff_interval.
 */
export function backoffSeconds(options: TaskOptions, retries: number, random: () => number = Math.random): number {
  const { retryBackoff } = options;
  if (!retryBackoff) return options.defaultRetryDelay ?? 180;
  const base = retryBackoff === true ? 1 : retryBackoff;
  const capped = Math.min(options.retryBackoffMax ?? 600, base * 2 ** retries);
  return options.retryJitter === false ? capped : Math.floor(random() * (capped + 1));
}

export function shouldAutoretry(options: TaskOptions, error: unknown): boolean {
  if ((options.dontAutoretryFor ?? []).some((errorClass) => error instanceof errorClass)) return false;
  return (options.autoretryFor ?? []).some((errorClass) => error instanceof errorClass);
}
