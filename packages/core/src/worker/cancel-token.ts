/**
 * The worker's one-shot request to end a running job (forced shutdown, revoke with terminate).
 * What an AbortController does, without an EventTarget and listener objects per task: a job
 * has one listener (its pool), and most jobs are never cancelled. The task's own ctx.signal is
 * an AbortSignal made from it on first use.
 */
export class CancelToken {
  #cancelled = false;
  #reason: unknown;
  #listener: ((reason: unknown) => void) | undefined;

  get cancelled(): boolean {
    return this.#cancelled;
  }

  get reason(): unknown {
    return this.#reason;
  }

  cancel(reason: unknown): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#reason = reason;
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.(reason);
  }

  /** Calls `listener` once on cancel (at once if already cancelled); returns a function that stops listening. One listener at a time. */
  onCancel(listener: (reason: unknown) => void): () => void {
    if (this.#cancelled) {
      listener(this.#reason);
      return noop;
    }
    this.#listener = listener;
    return () => {
      if (this.#listener === listener) this.#listener = undefined;
    };
  }
}

const noop = () => undefined;
