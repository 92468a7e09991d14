import type { Logger, LogLevel } from '@tq/core';
import { redactText } from '@tq/core/adapter';
import { pino } from 'pino';

export interface JsonLoggerOptions {
  /** Default 'info'. */
  readonly level?: LogLevel;
  /** Fields on every line, e.g. { worker: hostname }. */
  readonly bindings?: Record<string, unknown>;
  /** Where lines go. Default stderr (as the text logger). */
  readonly write?: (line: string) => void;
}

/**
 * One JSON object a line (`tq worker --log-format json`), with pino: `level` (name), `time`
 * (epoch ms), `msg`, the bindings (worker) and a line's own fields (task_id, task). Broker
 * passwords are redacted from every line, as in the text format.
 */
export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const base = pino(
    {
      level: options.level === 'silent' ? 'silent' : (options.level ?? 'info'),
      base: options.bindings ?? {},
      formatters: { level: (label) => ({ level: label }) },
    },
    { write: (line: string) => write(redactText(line)) },
  );
  const log = (at: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) => {
    if (fields) base[at](fields, message);
    else base[at](message);
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

