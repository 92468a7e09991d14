import {
  AuthorizationError,
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  RequestError,
  TimeoutError,
  UserAuthenticationExpiredError,
} from '@nats-io/transport-node';
import { JetStreamError } from '@nats-io/jetstream';
import { BrokerConnectionError, ConfigError, PayloadTooLargeError, TqError, redactText } from '@tq/core/adapter';

const transientCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** The nats.js errors that mean "the server is unreachable or the connection dropped": core may retry. */
export function isTransientNatsError(error: unknown): boolean {
  if (
    error instanceof ConnectionError ||
    error instanceof ClosedConnectionError ||
    error instanceof DrainingConnectionError ||
    error instanceof TimeoutError ||
    error instanceof NoRespondersError ||
    error instanceof RequestError ||
    // Pull status errors (heartbeats missed, leader changes) are JetStreamErrors; API errors are not.
    error instanceof JetStreamError
  ) {
    return true;
  }
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && transientCodes.has(code);
}

/**
 * Translates a nats.js error at the adapter boundary: connection-class errors become
 * BrokerConnectionError (core may reconnect and retry), rejected credentials a ConfigError
 * (retrying cannot help), everything else a TqError. Messages are redacted.
 */
export function toTqError(error: unknown, doing: string, options: { backend?: boolean; payloadBytes?: number; maxPayload?: number } = {}): TqError {
  if (error instanceof TqError) return error;
  const message = redactText(error instanceof Error ? error.message : String(error));
  if (error instanceof AuthorizationError || error instanceof UserAuthenticationExpiredError) {
    return new ConfigError([{ path: options.backend ? 'resultBackend' : 'broker', message: `${doing}: the NATS server rejected the credentials (${message})` }], { cause: error });
  }
  if (/max_payload size exceeded/.test(message) && options.payloadBytes !== undefined) {
    return new PayloadTooLargeError(options.payloadBytes, options.maxPayload ?? options.payloadBytes);
  }
  if (isTransientNatsError(error)) {
    return new BrokerConnectionError(`${doing}: ${message}`, { cause: error, backend: options.backend ?? false });
  }
  if ((error as Error | null)?.name === 'JetStreamNotEnabled' || /jetstream (is )?not enabled/i.test(message)) {
    return new ConfigError([{ path: options.backend ? 'resultBackend' : 'broker', message: `${doing}: JetStream is not enabled on this NATS server (start it with -js)` }], { cause: error });
  }
  return new TqError(options.backend ? 'TQ_BACKEND_UNAVAILABLE' : 'TQ_BROKER_UNAVAILABLE', `${doing}: ${message}`, { cause: error });
}
