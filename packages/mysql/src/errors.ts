import { BrokerConnectionError, TqError, redactText } from '@tq/core/adapter';

const transientCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CON_COUNT_ERROR', 'ER_SERVER_SHUTDOWN', 'ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT',
]);
const authCodes = new Set(['ER_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ER_NOT_SUPPORTED_AUTH_MODE']);

/** True when a mysql2 error means the server is unreachable or temporarily unusable. */
export function isTransientMysqlError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && transientCodes.has(code)) return true;
  return /closed state|Connection lost|connect ETIMEDOUT|Pool is closed/i.test(error.message);
}

/** Connection-class failures → BrokerConnectionError (TQ_BACKEND_UNAVAILABLE); refused login → a non-retried TqError. */
export function toTqError(error: unknown, what: string, displayUrl: string, connecting = false): unknown {
  if (error instanceof TqError || !(error instanceof Error)) return error;
  const detail = redactText(error.message);
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && authCodes.has(code)) return new TqError('TQ_BACKEND_UNAVAILABLE', `mysql result backend ${displayUrl} refused the credentials (${what}): ${detail}`, { cause: error });
  if (isTransientMysqlError(error)) return new BrokerConnectionError(`mysql result backend ${displayUrl} is unavailable (${what}): ${detail}`, { cause: error, backend: true });
  if (connecting) return new TqError('TQ_BACKEND_UNAVAILABLE', `cannot connect to mysql result backend ${displayUrl} (${what}): ${detail}`, { cause: error });
  return error;
}
