import { ConfigError } from '../errors.js';

/** '10/s', '100/m', '1000/h' or a number per second → tokens per millisecond. */
export function parseRate(rate: string | number): number {
  if (typeof rate === 'number') {
    if (!(rate > 0)) throw new ConfigError([{ path: 'rateLimit', message: `expected a positive rate, got ${rate}` }]);
    return rate / 1000;
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*\/\s*([smh])\s*$/.exec(rate);
  if (!match) throw new ConfigError([{ path: 'rateLimit', message: `expected "N/s", "N/m" or "N/h", got "${rate}"` }]);
  const per = { s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 's' | 'm' | 'h'];
  return Number(match[1]) / per;
}

/**
 * Token buckets, one per key: capacity 1 token (no bursts, as Celery's rate limits), refilled
 * continuously. Limits are per worker process, like Celery's.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  /** Milliseconds to wait before the next run for `key` at `perMs`; takes the token when 0. */
  reserve(key: string, perMs: number, now = Date.now()): number {
    const bucket = this.#buckets.get(key) ?? { tokens: 1, at: now };
    bucket.tokens = Math.min(1, bucket.tokens + (now - bucket.at) * perMs);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / perMs);
  }
}
