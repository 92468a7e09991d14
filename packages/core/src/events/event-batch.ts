/** Room for a batch before its first event: a full batch of the usual size fits without growing. */
const initialBytes = 16 * 1024;

/**
 * Task events gathered as the bytes of Celery's "task.multi" body (a JSON array, ", " between
 * events) while they are added. Each event's text is copied straight into the batch as Latin-1,
 * which V8 does from the template string's pieces without first making it one string, so a batch
 * costs no joined text and no UTF-8 encoding pass: events-overhead.mjs measured both. The texts
 * must be ASCII (the dispatcher writes them as Python's json.dumps does, with \u escapes).
 */
export class EventBatch {
  #bytes: Buffer | null = null;
  #length = 0;
  #count = 0;
  /** A little more than the last batch taken: the next starts with room for as much. */
  #lastBytes = initialBytes;

  get count(): number {
    return this.#count;
  }

  add(json: string): void {
    // '[' or ', ' before it, and ']' after the last one.
    const bytes = this.#room(json.length + 3);
    if (this.#count === 0) bytes[this.#length++] = 0x5b; // [
    else {
      bytes[this.#length++] = 0x2c; // ,
      bytes[this.#length++] = 0x20;
    }
    this.#length += bytes.write(json, this.#length, 'latin1');
    this.#count++;
  }

  /**
   * The batch's body, handed over (a new batch starts with new bytes, as the body may still be
   * sent after this returns): a lone event as itself, several as a JSON array. Null when empty.
   */
  take(): Uint8Array | null {
    const bytes = this.#bytes;
    if (!bytes || this.#count === 0) return null;
    let body: Uint8Array;
    if (this.#count === 1) body = bytes.subarray(1, this.#length);
    else {
      bytes[this.#length++] = 0x5d; // ]
      body = bytes.subarray(0, this.#length);
    }
    this.#lastBytes = Math.max(initialBytes, Math.ceil(this.#length * 1.25));
    this.#bytes = null;
    this.#length = 0;
    this.#count = 0;
    return body;
  }

  #room(needed: number): Buffer {
    const bytes = this.#bytes;
    if (bytes && this.#length + needed <= bytes.length) return bytes;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.#lastBytes, 2 * (bytes?.length ?? 0), this.#length + needed));
    if (bytes) bytes.copy(grown, 0, 0, this.#length);
    this.#bytes = grown;
    return grown;
  }
}
