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
