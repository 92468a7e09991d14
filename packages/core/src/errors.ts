/**
 * Every error tq throws is a TqError with a stable, documented `code` (docs/errors.md).
 * Subclasses exist only where a caller needs to catch a family or read extra fields.
 */
export type TqErrorCode =
  | 'TQ_CONFIG_INVALID'
  | 'TQ_ADAPTER_NOT_INSTALLED'
  | 'TQ_UNKNOWN_SCHEME'
  | 'TQ_BROKER_UNAVAILABLE'
  | 'TQ_BACKEND_UNAVAILABLE'
  | 'TQ_AUTH_FAILED'
  | 'TQ_CLOSED'
  | 'TQ_MESSAGE_MALFORMED'
  | 'TQ_CONTENT_TYPE_FORBIDDEN'
  | 'TQ_PAYLOAD_TOO_LARGE'
  | 'TQ_UNKNOWN_TASK'
  | 'TQ_TASK_FAILED'
  | 'TQ_TASK_REVOKED'
  | 'TQ_RESULT_TIMEOUT'
  | 'TQ_NO_RESULT_BACKEND'
  | 'TQ_TIME_LIMIT'
  | 'TQ_SOFT_TIME_LIMIT'
  | 'TQ_MAX_RETRIES'
  | 'TQ_RESULT_NOT_ENCODABLE'
  | 'TQ_WORKER_LOST'
  | 'TQ_REJECTED'
  | 'TQ_POISON_MESSAGE'
  | 'TQ_UNSUPPORTED'
  | 'TQ_INVALID_OPTION'
  | 'TQ_INVALID_ARGUMENTS'

  | 'TQ_CHORD_FAILED';

export class TqError extends Error {
  override name = 'TqError';
  readonly code: TqErrorCode;
  constructor(code: TqErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** Invalid configuration; `issues` lists every problem found, not just the first. */
export class ConfigError extends TqError {
  override name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[], options?: ErrorOptions) {
    super('TQ_CONFIG_INVALID', `invalid tq configuration:\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}`, options);
    this.issues = issues;
  }
}

/** The adapter package for a URL scheme is not installed. */
export class AdapterNotInstalledError extends TqError {
  override name = 'AdapterNotInstalledError';
  readonly packageName: string;
  constructor(scheme: string, packageName: string, options?: ErrorOptions) {
    super('TQ_ADAPTER_NOT_INSTALLED', `the "${scheme}://" adapter is not installed: run \`npm install ${packageName}\``, options);
    this.packageName = packageName;
  }
}

export class UnknownSchemeError extends TqError {
  override name = 'UnknownSchemeError';
  readonly scheme: string;
  /** `packageName`: tq's own adapter for the scheme, when it is one loaded by name (@tq/postgres). */
  constructor(scheme: string, known: readonly string[], suggestion?: string, packageName?: string, options?: ErrorOptions) {
    const load = packageName
      ? `The ${scheme}:// adapter is ${packageName} (npm install ${packageName}), loaded by name: tq … --adapter ${packageName}, TQ_ADAPTERS=${packageName}, or "adapters": ["${packageName}"] in tq.config.json (in code: createApp({ adapters: [adapter] }))`
      : `A third-party adapter package is loaded by name: "adapters": ["<package>"] in tq.config.json, TQ_ADAPTERS=<package>, or tq … --adapter <package> (in code: createApp({ adapters: [adapter] }))`;
    super('TQ_UNKNOWN_SCHEME', `unknown broker URL scheme "${scheme}://"${suggestion ? ` (did you mean "${suggestion}://"?)` : ''}; known schemes: ${known.join(', ')}. ${load}`, options);
    this.scheme = scheme;
  }
}

/**
 * A connection-class failure: the broker or backend is unreachable or the connection dropped.
 * Core may reconnect and retry; adapters throw this (with the native error as `cause`) for
 * every error their client classifies as transient.
 */
export class BrokerConnectionError extends TqError {
  override name = 'BrokerConnectionError';
  constructor(message: string, options?: ErrorOptions & { backend?: boolean }) {
    super(options?.backend ? 'TQ_BACKEND_UNAVAILABLE' : 'TQ_BROKER_UNAVAILABLE', message, options);
  }
}

/**
 * The broker or backend refused the credentials or the TLS handshake failed (bad certificate,
 * wrong CA). Not retried: retrying cannot fix it.
 */
export class AuthError extends TqError {
  override name = 'AuthError';
  constructor(message: string, options?: ErrorOptions) {
    super('TQ_AUTH_FAILED', message, options);
  }
}

/** Use of a broker, backend or app after close(). */
export class ClosedError extends TqError {
  override name = 'ClosedError';
  constructor(what: string) {
    super('TQ_CLOSED', `${what} is closed`);
  }
}

/** A message that cannot be decoded into a task request; `field` names the offending part. */
export class MessageDecodeError extends TqError {
  override name = 'MessageDecodeError';
  readonly field: string;
  constructor(field: string, message: string, options?: ErrorOptions) {
    super('TQ_MESSAGE_MALFORMED', `malformed task message: ${field}: ${message}`, options);
    this.field = field;
  }
}

export class ContentTypeForbiddenError extends TqError {
  override name = 'ContentTypeForbiddenError';
  readonly contentType: string;
  constructor(contentType: string, accept: readonly string[]) {
    super(
      'TQ_CONTENT_TYPE_FORBIDDEN',
      `content type "${contentType}" is not in the accept list [${accept.join(', ')}]; the message was not decoded`,
    );
    this.contentType = contentType;
  }
}

export class PayloadTooLargeError extends TqError {
  override name = 'PayloadTooLargeError';
  readonly size: number;
  readonly limit: number;
  constructor(size: number, limit: number) {
    super('TQ_PAYLOAD_TOO_LARGE', `payload of ${size} bytes exceeds the limit of ${limit} bytes`);
    this.size = size;
    this.limit = limit;
  }
}

export class UnknownTaskError extends TqError {
  override name = 'UnknownTaskError';
  readonly taskName: string;
  constructor(taskName: string, known: readonly string[] = []) {
    super(
      'TQ_UNKNOWN_TASK',
      `no task named "${taskName}" is registered in this worker${known.length ? ` (registered: ${known.slice(0, 20).join(', ')})` : ''}`,
    );
    this.taskName = taskName;
  }
}

/** A task failed remotely: carries the remote exception's type, message and traceback. */
export class TaskError extends TqError {
  override name = 'TaskError';
  readonly taskId: string;
  readonly excType: string;
  readonly excMessage: string;
  readonly excModule: string | undefined;
  readonly traceback: string | null;
  constructor(taskId: string, excType: string, excMessage: string, traceback: string | null, excModule?: string) {
    super('TQ_TASK_FAILED', `task ${taskId} failed: ${excType}: ${excMessage}`);
    this.taskId = taskId;
    this.excType = excType;
    this.excMessage = excMessage;
    this.traceback = traceback;
    this.excModule = excModule;
  }
}

export class TaskRevokedError extends TqError {
  override name = 'TaskRevokedError';
  readonly excModule = 'celery.exceptions';
  readonly taskId: string;
  /** The signal a terminate asked for (15 for SIGTERM), as Celery's task-revoked event reports it. */
  readonly signum: number | undefined;
  constructor(taskId: string, reason = 'revoked', signum?: number) {
    super('TQ_TASK_REVOKED', `task ${taskId} was ${reason}`);
    this.taskId = taskId;
    this.signum = signum;
  }
}

export class ResultTimeoutError extends TqError {
  override name = 'ResultTimeoutError';
  readonly taskId: string;
  constructor(taskId: string, timeoutMs: number) {
    super('TQ_RESULT_TIMEOUT', `no result for task ${taskId} within ${timeoutMs} ms`);
    this.taskId = taskId;
  }
}

/** The hard time limit elapsed: the executor running the task was terminated. */
export class TimeLimitExceeded extends TqError {
  override name = 'TimeLimitExceeded';
  /** Where Celery's class lives: a Python reader of the record rebuilds billiard's own exception. */
  readonly excModule = 'billiard.exceptions';
  constructor(seconds: number) {
    super('TQ_TIME_LIMIT', `hard time limit (${seconds}s) exceeded`);
  }
}

/**
 * A task's return value that cannot be written as its result (too deeply nested, a cycle, a
 * BigInt JSON cannot hold): the task is recorded FAILURE with this, as Celery records kombu's
 * EncodeError, instead of retrying a store that can never succeed.
 */
export class ResultEncodeError extends TqError {
  override name = 'EncodeError';
  readonly excModule = 'kombu.exceptions';
  constructor(cause: unknown) {
    super('TQ_RESULT_NOT_ENCODABLE', `the task's return value cannot be stored as its result: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

/** retry() past maxRetries without an error of its own to throw: Celery's exception of the same name. */
export class MaxRetriesExceededError extends TqError {
  override name = 'MaxRetriesExceededError';
  readonly excModule = 'celery.exceptions';
  constructor(task: string, id: string, limit: number) {
    super('TQ_MAX_RETRIES', `max retries (${limit}) exceeded for ${task}[${id}]`);
  }
}

/** The soft time limit elapsed: raised inside the task through its AbortSignal. */
export class SoftTimeLimitExceeded extends TqError {
  override name = 'SoftTimeLimitExceeded';
  readonly excModule = 'billiard.exceptions';
  constructor(seconds: number) {
    super('TQ_SOFT_TIME_LIMIT', `soft time limit (${seconds}s) exceeded`);
  }
}

/** The executor (thread or child process) running a task died: crash, kill, out of memory. */
export class WorkerLostError extends TqError {
  override name = 'WorkerLostError';
  constructor(message: string, options?: ErrorOptions) {
    super('TQ_WORKER_LOST', message, options);
  }
}

export class UnsupportedError extends TqError {
  override name = 'UnsupportedError';
  constructor(message: string) {
    super('TQ_UNSUPPORTED', message);
  }
}

/** A send option (sendTask, applyAsync) with a wrong value or an unknown name; `issues` lists every one. */
export class InvalidOptionError extends TqError {
  override name = 'InvalidOptionError';
  /** The first offending option, e.g. 'priority'. */
  readonly option: string;
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super('TQ_INVALID_OPTION', `invalid send option${issues.length > 1 ? 's' : ''}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    this.option = issues[0]?.path ?? '';
    this.issues = issues;
  }
}

/** A task's arguments do not fit its declared `params`: `argument` names the unknown, missing or doubled one. */
export class ArgumentBindingError extends TqError {
  override name = 'ArgumentBindingError';
  readonly taskName: string;
  readonly argument: string | undefined;
  constructor(taskName: string, message: string, argument?: string) {
    super('TQ_INVALID_ARGUMENTS', `${taskName}: ${message}`);
    this.taskName = taskName;
    this.argument = argument;
  }
}

export function isTqError(error: unknown, code?: TqErrorCode): error is TqError {
  return error instanceof TqError && (code === undefined || error.code === code);
}
