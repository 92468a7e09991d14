import type { App } from '../app.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';

/** While the shared bucket cannot be reached, a task waits this long and asks again. */
const unreachableRetryMs = 1_000;

/**
 * Ms to wait before running a task under a cluster-wide rate limit (rateLimitScope: 'cluster'):
 * the token bucket for `key` lives in the result backend, shared by every worker. When the
 * backend cannot keep it or does not answer, the task waits and asks again: a cluster limit
 * is never silently exceeded.
 */
export async function reserveClusterToken(app: App, key: string, perMs: number, logger: Logger): Promise<number> {
  try {
    const backend = await app.backend();
    if (!backend) throw new Error('no result backend is configured');
    return await backend.reserveToken(`tq-rate:${key}`, perMs);
  } catch (error) {
    logger.warn(`cluster rate limit for ${key}: ${(error as Error).message}; waiting ${unreachableRetryMs} ms`);
    return unreachableRetryMs;
  }
}

/** Refuses to start a worker whose tasks ask for cluster-wide limits its backend cannot keep. */
export function assertClusterRateLimits(app: App, backendCapabilities: { readonly rateLimit?: boolean } | null): void {
  const needing = [...app.tasks.values()].filter((t) => t.options.rateLimit !== undefined && t.options.rateLimitScope === 'cluster').map((t) => t.name);
  if (needing.length === 0 || backendCapabilities?.rateLimit) return;
  throw new ConfigError(
    needing.map((name) => ({
      path: `tasks.${name}.rateLimitScope`,
      message: `'cluster' needs a result backend that keeps rate-limit buckets (capabilities.rateLimit: redis://); ${backendCapabilities ? 'this one does not' : 'none is configured'}`,
    })),
  );
}
