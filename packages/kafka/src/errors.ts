import { AuthError, BrokerConnectionError, TqError, redactText } from '@tq/core/adapter';

/** kafkajs error classes that mean "the cluster is unreachable or moving": core may retry. */
const connectionErrorNames = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSNotImplemented',
  'KafkaJSLockTimeout',
]);

/** Errors a commit meets when the group rebalanced under it: the partition is someone else's now. */
const rebalanceErrorTypes = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'NOT_COORDINATOR', 'NOT_COORDINATOR_FOR_GROUP']);

interface KafkaJsErrorShape {
  name?: string;
  message?: string;
  retriable?: boolean;
  type?: string;
  cause?: unknown;
}

export function isRebalanceError(error: unknown): boolean {
  const e = error as KafkaJsErrorShape | null;
  if (!e) return false;
  if (e.type && rebalanceErrorTypes.has(e.type)) return true;
  return e.cause !== undefined && e.cause !== error && isRebalanceError(e.cause);
}

/**
 * A kafkajs error → a TqError: connection-class failures become BrokerConnectionError (core
 * retries them), SASL failures an AuthError (TQ_AUTH_FAILED: retrying a wrong password does not help),
 * anything else a plain TqError (code TQ_BROKER_UNAVAILABLE) that core does not retry.
 * Messages go through redactText so no credential reaches a log.
 */
export function toTqError(error: unknown, action: string): Error {
  if (error instanceof TqError) return error;
  const e = (error ?? {}) as KafkaJsErrorShape;
  const detail = redactText(String(e.message ?? error));
  const message = `kafka: ${action} failed: ${detail}`;
  if (e.name === 'KafkaJSSASLAuthenticationError') {
    return new AuthError(`kafka: ${action} failed: SASL authentication failed: ${detail} (check the user name, password and mechanism)`, { cause: error });
  }
  if ((e.name && connectionErrorNames.has(e.name)) || e.retriable === true) return new BrokerConnectionError(message, { cause: error });
  if (e.name === 'KafkaJSNonRetriableError' && e.cause && e.cause !== error) {
    // kafkajs wraps the last retriable failure once its own retries are spent.
    const inner = toTqError(e.cause, action);
    if (inner instanceof BrokerConnectionError) return new BrokerConnectionError(message, { cause: error });
  }
  return new TqError('TQ_BROKER_UNAVAILABLE', message, { cause: error });
}
