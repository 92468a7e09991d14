import { Ignore, Reject, Retry } from '../../task-signals.js';

/** An error as it crosses from an executor thread or process to the worker. */
export interface WireError {
  readonly kind: 'error' | 'retry' | 'reject' | 'ignore';
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  readonly countdown?: number;
  readonly requeue?: boolean;
  readonly reason?: WireError;
}

export function toWireError(error: unknown): WireError {
  if (error instanceof Retry) {
    return { kind: 'retry', name: error.name, message: error.message, stack: error.stack, countdown: error.countdown, ...(error.reason !== undefined ? { reason: toWireError(error.reason) } : {}) };
  }
  if (error instanceof Reject) return { kind: 'reject', name: error.name, message: error.message, stack: error.stack, requeue: error.requeue };
  if (error instanceof Ignore) return { kind: 'ignore', name: error.name, message: error.message, stack: error.stack };
  if (error instanceof Error) return { kind: 'error', name: error.name, message: error.message, stack: error.stack };
  return { kind: 'error', name: 'Error', message: String(error), stack: undefined };
}

/** The error a task threw in its executor, with its original name, message and stack. */
export class RemoteError extends Error {
  constructor(wire: WireError) {
    super(wire.message);
    this.name = wire.name;
    if (wire.stack) this.stack = wire.stack;
  }
}

export function fromWireError(wire: WireError): unknown {
  switch (wire.kind) {
    case 'retry':
      return new Retry(wire.countdown ?? 0, wire.reason ? fromWireError(wire.reason) : undefined);
    case 'reject':
      return new Reject(wire.message, { requeue: wire.requeue ?? false });
    case 'ignore':
      return new Ignore(wire.message);
    default:
      return new RemoteError(wire);
  }
}
