import type { RuntimeBackend } from '../backend/runtime-backend.js';
import type { BrokerCapabilities } from '../broker/capabilities.js';
import { InvalidOptionError, UnsupportedError } from '../errors.js';
import type { SendOptions } from './send-options.js';

/** A claim taken for one send: released if the publish fails, so a retry is not swallowed. */
export interface SendClaim {
  readonly key: string;
  readonly id: string;
}

/**
 * Claims the send's deduplication key in the result backend. Returns the id of the task that
 * already holds it (send nothing, hand back its result), or the claim this send now holds, or
 * null when nothing is deduplicated (no key, or a taskId on a backend that cannot claim).
 */
export async function claimSend(backend: RuntimeBackend | null, options: SendOptions, id: string, resultTtlMs: number): Promise<{ heldBy: string } | SendClaim | null> {
  const claim = backend?.claim;
  if (options.dedupe) {
    if (!claim) throw new UnsupportedError('dedupe needs a result backend that can claim keys atomically (capabilities.claim: memory://, redis://, nats://)');
    const key = `key:${options.dedupe.key}`;
    const heldBy = await claim(key, id, options.dedupe.ttl * 1000);
    return heldBy === null ? { key, id } : { heldBy };
  }
  if (options.taskId === undefined || !claim) return null;
  const key = `id:${options.taskId}`;
  const heldBy = await claim(key, id, resultTtlMs);
  return heldBy === null ? { key, id } : { heldBy };
}

/** After a failed publish: let a retry of the same send through. Best effort (the publish error is what the caller sees). */
export async function releaseSendClaim(backend: RuntimeBackend | null, claim: SendClaim): Promise<void> {
  await backend?.releaseClaim?.(claim.key, claim.id).catch(() => undefined);
}

/** The message's deduplication id for `brokerDeduplication`: the task id, where the broker can drop repeats itself. */
export function brokerDeduplicationId(capabilities: BrokerCapabilities, options: SendOptions): string {
  if (options.taskId === undefined) throw new InvalidOptionError([{ path: 'brokerDeduplication', message: 'needs taskId: the id the broker deduplicates by' }]);
  if (capabilities.publishDeduplicationMs === null) throw new UnsupportedError('brokerDeduplication needs a broker that drops repeated publishes itself (capabilities.publishDeduplicationMs: redis://, nats://, postgres://, memory://)');
  return options.taskId;
}
