import { redactText } from './adapters/url.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** The logging surface tq uses; pass your own (pino, winston…) with the same four methods. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** A stderr logger; every line is passed through redactText so no broker password is printed. */
export function createConsoleLogger(level: LogLevel = 'info', prefix = 'tq'): Logger {
  const log = (at: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    if (order[at] < order[level]) return;
    const extra = fields && Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : '';
    process.stderr.write(redactText(`[${new Date().toISOString()}] ${at.toUpperCase()} ${prefix}: ${message}${extra}`) + '\n');
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/**
 * The app's logger: forwards to a logger that can be swapped after the app was made (the CLI
 * turns on JSON logs after loading the user's module), so adapters and workers that already
 * hold it follow.
 */
export class ForwardingLogger implements Logger {
  #target: Logger;

  constructor(target: Logger) {
    this.#target = target;
  }

  use(target: Logger): void {
    this.#target = target;
  }

  debug(message: string, fields?: Record<string, unknown>): void {
    this.#target.debug(message, fields);
  }

  info(message: string, fields?: Record<string, unknown>): void {
    this.#target.info(message, fields);
  }

  warn(message: string, fields?: Record<string, unknown>): void {
    this.#target.warn(message, fields);
  }

  error(message: string, fields?: Record<string, unknown>): void {
    this.#target.error(message, fields);
  }
}
