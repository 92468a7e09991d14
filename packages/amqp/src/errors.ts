import { BrokerConnectionError, ConfigError, TqError, redactText } from '@tq/core/adapter';

/** AMQP reply codes that amqplib puts on channel/connection close errors. */
const PRECONDITION_FAILED = 406;
const ACCESS_REFUSED = 403;

interface AmqpNativeError {
  readonly message?: string;
  readonly code?: number | string;
}

function nativeMessage(error: unknown): string {
  const raw = error instanceof Error ? error.message : String(error);
  return redactText(raw);
}

/**
 * Classifies an amqplib or socket error at the adapter boundary (kombu's connection_errors):
 * a queue declared with other arguments → ConfigError (retrying cannot help); everything else
 * that amqplib raises (socket errors, closed channels and connections, refused access,
 * missing vhosts, timeouts) → BrokerConnectionError, which core may retry. TqErrors pass
 * through. Messages never carry a password: `endpoint` is already redacted, native text is
 * run through redactText.
 */
export function toTqError(error: unknown, endpoint: string, what: string, options: { backend?: boolean } = {}): TqError {
  if (error instanceof TqError) return error;
  const code = (error as AmqpNativeError | null)?.code;
  const message = nativeMessage(error);
  if (code === PRECONDITION_FAILED) {
    return new ConfigError(
      [
        {
          path: options.backend ? 'resultBackend' : 'broker',
          message:
            `${what} on ${endpoint}: ${message}. The queue exists with other arguments ` +
            '(x-max-priority, x-queue-type or x-dead-letter-*): make maxPriority, queueType and deadLetter match ' +
            "the existing declaration (and Celery's task_queue_max_priority), or delete the queue",
        },
      ],
      { cause: error },
    );
  }
  const hint = code === ACCESS_REFUSED ? ' (check the user name, password and vhost permissions)' : '';
  return new BrokerConnectionError(`${what} on ${endpoint} failed: ${message}${hint}`, { cause: error, backend: options.backend ?? false });
}
