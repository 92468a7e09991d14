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
import { AuthError, BrokerConnectionError, PayloadTooLargeError, TqError, redactText } from '@tq/core/adapter';

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
 * BrokerConnectionError (core may reconnect and retry), rejected credentials an AuthError
 * (retrying cannot help), everything else a TqError with the same code but not retried.
 * Messages are redacted.
 */
export function toTqError(
  error: unknown,
  doing: string,
  options: { backend?: boolean; payloadBytes?: number; maxPayload?: number; connecting?: boolean } = {},
): TqError {
  if (error instanceof TqError) return error;
  const message = redactText(error instanceof Error ? error.message : String(error));
  if (error instanceof AuthorizationError || error instanceof UserAuthenticationExpiredError) {
    return new AuthError(`${doing}: the NATS server rejected the credentials (${message}); check the token, user and password, or nkey`, { cause: error });
  }
  if (/max_payload size exceeded/.test(message) && options.payloadBytes !== undefined) {
    return new PayloadTooLargeError(options.payloadBytes, options.maxPayload ?? options.payloadBytes);
  }
  if (isTransientNatsError(error)) {
    return new BrokerConnectionError(`${doing}: ${message}`, { cause: error, backend: options.backend ?? false });
  }
  // nats.js says "JetStream not enabled" whenever a JetStream subject has no responders: a
  // server started without -js, or a cluster electing a (meta or stream) leader after a node
  // loss. Only the second passes, but both look alike: let core retry, and say both.
  if ((error as Error | null)?.name === 'JetStreamNotEnabled' || /jetstream (is )?not enabled/i.test(message)) {
    const hint = options.connecting ? 'JetStream is not enabled on this server (start it with -js) or not ready yet' : 'no JetStream server answered (stream leader election?)';
    return new BrokerConnectionError(`${doing}: ${hint}: ${message}`, { cause: error, backend: options.backend ?? false });
  }
  return new TqError(options.backend ? 'TQ_BACKEND_UNAVAILABLE' : 'TQ_BROKER_UNAVAILABLE', `${doing}: ${message}`, { cause: error });
}
