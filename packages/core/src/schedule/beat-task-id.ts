import { createHash } from 'node:crypto';

/**
 * The task id of one tick: a UUID derived from the namespace, entry and tick time, so a tick
 * always has the same id whichever beat fires it (a duplicate would show as the same id, and
 * workers or stores keyed by task id can drop it).
 */
export function beatTaskId(namespace: string, entry: string, tick: number): string {
  const hex = createHash('sha256').update(`${namespace}\0${entry}\0${tick}`).digest('hex');
  // RFC 9562 version 8 (custom) with the RFC variant bits.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
