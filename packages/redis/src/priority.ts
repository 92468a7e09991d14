/**
 * Priority mapping between tq and kombu's Redis transport.
 *
 * tq (like AMQP) ranks 0..9 with 9 the most urgent. kombu on Redis does the opposite: 0 is
 * served first (its lists are BRPOP'ed in step order 0, 3, 6, 9). So that `priority: 9` means
 * "most urgent" on every tq broker, and a Python worker on the same queue agrees with it, the
 * adapter writes `9 - priority` on the wire and reads it back the same way. The numbers in the
 * envelope are therefore kombu's; their meaning is preserved in both directions.
 *
 * A message sent without a priority carries none on the wire and lands in the bare queue list,
 * as Celery's do; it is received without a priority.
 */

export const MAX_PRIORITY = 9;

function clamp(value: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.min(MAX_PRIORITY, Math.max(0, Math.round(value)));
}

/** tq priority (9 = most urgent) → the number kombu stores in properties.priority (0 = most urgent). */
export function toWirePriority(priority: number): number {
  return MAX_PRIORITY - clamp(priority);
}

/**
 * Where a message without a priority goes: kombu's default_priority, 0, which is the bare
 * queue list, served first, where Celery puts every message sent without a priority.
 */
export const DEFAULT_WIRE_PRIORITY = 0;

/** kombu's properties.priority → tq priority. */
export function fromWirePriority(wire: unknown): number {
  const n = typeof wire === 'number' ? wire : typeof wire === 'string' ? Number(wire) : 0;
  return MAX_PRIORITY - clamp(n);
}
