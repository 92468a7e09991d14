import { BrokerConnectionError } from '../errors.js';

/** How core retries an operation that failed with a connection-class error. */
export interface RetryPolicy {
  /** Attempts after the first; 0 = fail at once. Default 5. */
  readonly maxRetries: number;
  /** First wait in ms, doubled each attempt up to `maxDelayMs`. Default 200. */
  readonly initialDelayMs: number;
  /** Default 5000. */
  readonly maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { maxRetries: 5, initialDelayMs: 200, maxDelayMs: 5000 };

export function isConnectionError(error: unknown): boolean {
  return error instanceof BrokerConnectionError;
}

/** Runs `operation`, retrying connection-class errors with exponential backoff; other errors fail at once. */
export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (!isConnectionError(error) || attempt >= policy.maxRetries) throw error;
      const delayMs = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** attempt);
      onRetry?.(error, attempt + 1, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
