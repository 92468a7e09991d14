import { AuthError, BrokerConnectionError, TqError, isTlsFailureCode, redactText } from '@tq/core/adapter';

// Socket-level failures and Redis replies that mean "the server is not usable right now":
// core may reconnect and retry these (kombu's connection_errors for redis-py).
const transientCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const transientReplies = /^(LOADING|BUSY|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN)\b/;
const transientMessages = /Connection is closed|Stream isn't writeable|connect ETIMEDOUT|Reached the max retries per request|All sentinels are unreachable|Failed to connect|Connection lost|socket closed|Command timed out|Socket timeout/i;
const authReplies = /^(NOAUTH|WRONGPASS|NOPERM)\b|invalid password|ERR AUTH/i;

export interface ErrorContext {
  /** The redacted URL, to say which server failed. */
  readonly displayUrl: string;
  /** True for the result backend (TQ_BACKEND_UNAVAILABLE instead of TQ_BROKER_UNAVAILABLE). */
  readonly backend?: boolean;
  /** While connecting, every failure is reported as a typed error (nothing else can be meant). */
  readonly connecting?: boolean;
}

/** True when an ioredis error means the connection is down or the server is temporarily unusable. */
export function isTransientRedisError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && transientCodes.has(code)) return true;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  return transientReplies.test(error.message) || transientMessages.test(error.message);
}

/**
 * Classifies an ioredis error at the adapter boundary. Connection-class failures become
 * BrokerConnectionError (core may retry); a refused login or a TLS verification failure
 * becomes an AuthError (TQ_AUTH_FAILED), not retried: retrying only delays the failure; anything else
 * (a Redis reply error such as WRONGTYPE) is returned unchanged. Messages never carry secrets.
 */
export function toTqError(error: unknown, context: ErrorContext): unknown {
  if (error instanceof TqError) return error;
  if (!(error instanceof Error)) return error;
  const code = context.backend ? 'TQ_BACKEND_UNAVAILABLE' : 'TQ_BROKER_UNAVAILABLE';
  const what = context.backend ? 'result backend' : 'broker';
  const detail = redactText(error.message);
  if (authReplies.test(error.message)) {
    return new AuthError(`redis ${what} ${context.displayUrl} refused the credentials: ${detail} (check the user name and password)`, { cause: error });
  }
  const nativeCode = (error as { code?: unknown }).code;
  if (isTlsFailureCode(nativeCode)) {
    return new AuthError(`redis ${what} ${context.displayUrl}: TLS handshake failed (${nativeCode}): ${detail} (check the CA file and the server's certificate)`, { cause: error });
  }
  if (isTransientRedisError(error)) {
    return new BrokerConnectionError(`redis ${what} ${context.displayUrl} is unavailable: ${detail}`, {
      cause: error,
      backend: context.backend ?? false,
    });
  }
  if (context.connecting) return new TqError(code, `cannot connect to redis ${what} ${context.displayUrl}: ${detail}`, { cause: error });
  return error;
}

/** Runs `operation`, translating what it throws with toTqError. */
export async function translated<T>(context: ErrorContext, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw toTqError(error, context);
  }
}
