/**
 * Errors task code throws (or gets from ctx.retry) to steer the worker, named as in Celery.
 * They are control flow, not failures: the worker handles each without recording FAILURE.
 */

/** Re-run the task later: thrown by ctx.retry(). */
export class Retry extends Error {
  override name = 'Retry';
  /** Seconds until the retry runs. */
  readonly countdown: number;
  /** The error that caused the retry (recorded in the RETRY state). */
  readonly reason: unknown;
  constructor(countdown: number, reason?: unknown) {
    super(`retry in ${countdown}s${reason instanceof Error ? `: ${reason.message}` : ''}`);
    this.countdown = countdown;
    this.reason = reason;
  }
}

/** Reject the message: dead-letter it (requeue=false) or put it back (requeue=true). */
export class Reject extends Error {
  override name = 'Reject';
  readonly requeue: boolean;
  constructor(reason = 'rejected by task', options: { requeue?: boolean } = {}) {
    super(reason);
    this.requeue = options.requeue ?? false;
  }
}

/** Ack the message and record nothing. */
export class Ignore extends Error {
  override name = 'Ignore';
  constructor(reason = 'ignored by task') {
    super(reason);
  }
}
