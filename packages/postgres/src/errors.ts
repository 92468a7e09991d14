import { BrokerConnectionError, TqError, redactText } from '@tq/core/adapter';

// Socket-level failures: the server is not reachable right now (kombu's connection_errors).
const transientCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
// SQLSTATE: class 08 (connection exception), 57P01..57P03 (server shutting down / starting),
// 53300 (too many connections), 40001/40P01 (serialization failure, deadlock: retry is the cure).
const transientStates = /^(08...|57P0[1-3]|53300|40001|40P01)$/;
// node-postgres' own messages for a connection that died or never answered.
const transientMessages = /Connection terminated|Query read timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|not queryable|Client was closed|socket hang up/i;
// 28xxx: invalid authorization (wrong password, no such role): retrying cannot fix it.
const authStates = /^28/;

export interface ErrorContext {
  readonly displayUrl: string;
  /** TQ_BACKEND_UNAVAILABLE instead of TQ_BROKER_UNAVAILABLE. */
  readonly backend?: boolean;
  /** While connecting, every failure is reported as a typed error. */
  readonly connecting?: boolean;
}

/** True when a node-postgres error means the connection is down or the server is temporarily unusable. */
export function isTransientPostgresError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (transientCodes.has(code) || transientStates.test(code))) return true;
  return transientMessages.test(error.message);
}

/**
 * Classifies a node-postgres error at the adapter boundary: connection-class failures become
 * BrokerConnectionError (core may retry), refused credentials a non-retried TqError with the
 * same code, anything else (an SQL error) is returned unchanged.
 */
export function toTqError(error: unknown, what: string, context: ErrorContext): unknown {
  if (error instanceof TqError || !(error instanceof Error)) return error;
  const code = context.backend ? 'TQ_BACKEND_UNAVAILABLE' : 'TQ_BROKER_UNAVAILABLE';
  const role = context.backend ? 'result backend' : 'broker';
  const detail = redactText(error.message);
  const sqlState = (error as { code?: unknown }).code;
  if (typeof sqlState === 'string' && authStates.test(sqlState)) {
    return new TqError(code, `postgres ${role} ${context.displayUrl} refused the credentials (${what}): ${detail}`, { cause: error });
  }
  if (isTransientPostgresError(error)) {
    return new BrokerConnectionError(`postgres ${role} ${context.displayUrl} is unavailable (${what}): ${detail}`, { cause: error, backend: context.backend ?? false });
  }
  if (context.connecting) return new TqError(code, `cannot connect to postgres ${role} ${context.displayUrl} (${what}): ${detail}`, { cause: error });
  return error;
}
