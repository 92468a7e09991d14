import { nearest } from '../adapters/resolve.js';

/** ' (did you mean "tq worker"?)' for a mistyped command, or '' when nothing is close. */
export function commandHint(name: string, commands: readonly string[]): string {
  const suggestion = nearest(name, commands);
  return suggestion ? ` (did you mean "tq ${suggestion}"?)` : '';
}

/**
 * ' (did you mean "--concurrency"?)' when node:util parseArgs rejected an unknown flag close to
 * a known one; '' otherwise. parseArgs names the flag only in its message.
 */
export function flagHint(error: unknown, options: object): string {
  const flag = /Unknown option '(-{1,2}[^'=]+)'/.exec((error as Error).message ?? '')?.[1];
  if (!flag || !flag.startsWith('--')) return '';
  const suggestion = nearest(flag.slice(2), Object.keys(options));
  return suggestion ? ` (did you mean "--${suggestion}"?)` : '';
}
