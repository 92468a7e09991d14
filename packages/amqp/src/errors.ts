import { AuthError, BrokerConnectionError, ConfigError, TqError, isTlsFailureCode, redactText } from '@tq/core/adapter';

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
 * refused credentials, a vhost that is missing or not permitted, a certificate that fails
 * verification → AuthError (TQ_AUTH_FAILED, not retried); everything else that amqplib raises
 * (socket errors, closed channels and connections, timeouts) → BrokerConnectionError, which
 * core may retry. TqErrors pass through. Messages never carry a password: `endpoint` is already
 * redacted, native text is run through redactText.
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
  // Credentials, vhost access and certificates: retrying cannot fix them, so they are not retried.
  if (code === ACCESS_REFUSED || /ACCESS.REFUSED/.test(message)) {
    return new AuthError(`${what} on ${endpoint} failed: ${message} (check the user name, password and vhost permissions)`, { cause: error });
  }
  if (/Expected ConnectionOpenOk/.test(message)) {
    // RabbitMQ closes the handshake without saying why when the vhost is missing or not permitted.
    return new AuthError(
      `${what} on ${endpoint} failed: the server closed the connection while opening the vhost: it does not exist, or this user may not use it ` +
        '(rabbitmqctl list_vhosts; rabbitmqctl set_permissions -p <vhost> <user> ".*" ".*" ".*")',
      { cause: error },
    );
  }
  if (isTlsFailureCode(code)) {
    return new AuthError(`${what} on ${endpoint} failed: TLS (${code}): ${message} (check the CA and the server's certificate and host name)`, { cause: error });
  }
  return new BrokerConnectionError(`${what} on ${endpoint} failed: ${message}`, { cause: error, backend: options.backend ?? false });
}
