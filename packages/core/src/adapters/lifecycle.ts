import { ClosedError } from '../errors.js';
import { withRetry, type RetryPolicy } from './retry-policy.js';

/**
 * Connect once, retry a failed connect on the next use, refuse use after close, close once.
 * Shared by the broker and backend runtime guards so no adapter re-implements lifecycle.
 */
export class Lifecycle {
  #connecting: Promise<void> | undefined;
  #connected = false;
  #closing: Promise<void> | undefined;
  readonly #what: string;
  readonly #connect: (signal?: AbortSignal) => Promise<void>;
  readonly #close: () => Promise<void>;

  constructor(what: string, connect: (signal?: AbortSignal) => Promise<void>, close: () => Promise<void>) {
    this.#what = what;
    this.#connect = connect;
    this.#close = close;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Connected and not closing: callers may skip connect() (a promise per call) on hot paths. */
  get open(): boolean {
    return this.#connected && this.#closing === undefined;
  }

  assertOpen(): void {
    if (this.#closing) throw new ClosedError(this.#what);
  }

  connect(signal?: AbortSignal): Promise<void> {
    this.assertOpen();
    if (!this.#connecting) {
      const attempt = this.#connect(signal);
      this.#connecting = attempt;
      attempt.then(
        () => {
          if (this.#connecting === attempt) this.#connected = true;
        },
        () => {
          // A failed connect is not cached: the next use tries again.
          if (this.#connecting === attempt) this.#connecting = undefined;
        },
      );
    }
    return this.#connecting;
  }

  /**
   * Runs `operation` on the connected client, retrying connection-class failures per `policy`.
   * Once connected the first try is one plain call (this runs per message: no async frame, no
   * connect() promise); the retry loop, with its whole budget, takes over at its first failure.
   */
  run<T>(operation: () => Promise<T>, policy: RetryPolicy): Promise<T> {
    if (this.open) return operation().catch((error: unknown) => this.#runWithRetry(operation, policy, { error }));
    return this.#runWithRetry(operation, policy);
  }

  #runWithRetry<T>(operation: () => Promise<T>, policy: RetryPolicy, firstFailure?: { error: unknown }): Promise<T> {
    const attempt = async () => {
      await this.connect();
      this.assertOpen();
      return operation();
    };
    return withRetry(attempt, policy, undefined, firstFailure);
  }

  close(): Promise<void> {
    if (!this.#closing) {
      const connecting = this.#connecting;
      this.#closing = (async () => {
        // Let an in-flight connect settle so its connection is closed, not leaked.
        if (connecting) await connecting.catch(() => undefined);
        await this.#close();
      })();
    }
    return this.#closing;
  }
}
