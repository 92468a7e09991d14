/**
 * Task events gathered for Celery's "task.multi" body (a JSON array, ", " between events). The
 * texts must be ASCII (the dispatcher writes them as Python's json.dumps does, with \u escapes):
 * the body is then the joined text's Latin-1 bytes, a copy without a UTF-8 encoding pass.
 */
export class EventBatch {
  #texts: string[] = [];

  get count(): number {
    return this.#texts.length;
  }

  add(json: string): void {
    this.#texts.push(json);
  }

  /** The batch's body, handed over: a lone event as itself, several as a JSON array. Null when empty. */
  take(): Uint8Array | null {
    const texts = this.#texts;
    if (texts.length === 0) return null;
    this.#texts = [];
    return Buffer.from(texts.length === 1 ? texts[0]! : `[${texts.join(', ')}]`, 'latin1');
  }
}
