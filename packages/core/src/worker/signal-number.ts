import { constants } from 'node:os';

const sigterm = constants.signals.SIGTERM;

/**
 * The number of the signal a terminate names, as Celery's `_signals.signum` reads it: a number
 * as it is, a name with or without "SIG" ("TERM", "SIGKILL"). Celery's default is TERM; a name
 * no platform knows is read as TERM too, rather than failing the revoke.
 */
export function signalNumber(signal: unknown): number {
  if (typeof signal === 'number' && Number.isInteger(signal) && signal > 0) return signal;
  if (typeof signal !== 'string' || signal === '') return sigterm;
  const name = signal.toUpperCase();
  const known = constants.signals[(name.startsWith('SIG') ? name : `SIG${name}`) as keyof typeof constants.signals];
  return known ?? sigterm;
}
