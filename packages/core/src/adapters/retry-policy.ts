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

/** Node socket error codes that mean "the connection failed", whichever client raised them. */
const networkErrorCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED']);

/** Node's TLS certificate and handshake failure codes (CERT_HAS_EXPIRED, SELF_SIGNED_CERT_IN_CHAIN, …). */
const tlsFailureCodes = /CERT|SELF_SIGNED|UNABLE_TO_(VERIFY|GET)|ERR_TLS|ERR_SSL/;

/**
 * Whether a native error code is a TLS certificate or handshake failure: retrying cannot fix
 * it, so an adapter reports it as an AuthError (TQ_AUTH_FAILED) rather than a connection error.
 */
export function isTlsFailureCode(code: unknown): boolean {
  return typeof code === 'string' && tlsFailureCodes.test(code);
}

/**
 * Connection-class errors are worth a reconnect and retry: BrokerConnectionError from an adapter
 * (the contract), or, as a fallback for a client error an adapter let through, a socket error code.
 */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof BrokerConnectionError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && networkErrorCodes.has(code);
}

/**
 * Runs `operation`, retrying connection-class errors with exponential backoff; other errors fail
 * at once. `firstFailure`: the caller already made the first attempt itself and it failed so.
 */
export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void,
  firstFailure?: { readonly error: unknown },
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      if (attempt === 0 && firstFailure) throw firstFailure.error;
      return await operation(attempt);
    } catch (error) {
      if (!isConnectionError(error) || attempt >= policy.maxRetries) throw error;
      const delayMs = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** attempt);
      onRetry?.(error, attempt + 1, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
