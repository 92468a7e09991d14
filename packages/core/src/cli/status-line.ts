/**
 * Live status on stderr: a spinner line rewritten in place on a terminal, plain lines
 * (only when the text changes) when piped, so logs stay readable.
 */
export class StatusLine {
  readonly #stream: NodeJS.WriteStream;
  readonly #tty: boolean;
  #text = '';
  #frame = 0;
  #timer: NodeJS.Timeout | undefined;
  static readonly frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.#stream = stream;
    this.#tty = Boolean(stream.isTTY);
    if (this.#tty) {
      this.#timer = setInterval(() => this.#render(), 80);
      this.#timer.unref();
    }
  }

  update(text: string): void {
    if (text === this.#text) return;
    this.#text = text;
    if (this.#tty) this.#render();
    else this.#stream.write(`${text}\n`);
  }

  #render(): void {
    const frame = StatusLine.frames[this.#frame++ % StatusLine.frames.length];
    this.#stream.write(`\r\x1b[2K${frame} ${this.#text}`);
  }

  /** Leave the final text on its own line. */
  done(text?: string): void {
    clearInterval(this.#timer);
    if (this.#tty) this.#stream.write(`\r\x1b[2K${text ?? this.#text}\n`);
    else if (text && text !== this.#text) this.#stream.write(`${text}\n`);
  }
}

/** A text progress bar for PROGRESS metadata shaped like {current|done, total}. */
export function progressBar(meta: unknown, width = 20): string | undefined {
  if (meta === null || typeof meta !== 'object') return undefined;
  const m = meta as Record<string, unknown>;
  const current = typeof m['current'] === 'number' ? m['current'] : typeof m['done'] === 'number' ? m['done'] : undefined;
  const total = typeof m['total'] === 'number' ? m['total'] : undefined;
  if (current === undefined || !total) return undefined;
  const ratio = Math.max(0, Math.min(1, current / total));
  const filled = Math.round(ratio * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${current}/${total}`;
}
