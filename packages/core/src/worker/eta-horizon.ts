import { ConfigError } from '../errors.js';

/**
 * How long a worker may keep a countdown/ETA task in memory. A task due further away goes
 * back to the broker's own delay mechanism (capabilities.delayedDelivery), so a worker's
 * memory, its prefetch window and its connection never carry long delays: a dropped connection
 * or a crash can then only duplicate what is due within the horizon, and the held copy of a
 * lost delivery is dropped at once (Delivery.lost). See docs/guarantees.md.
 */
export const defaultEtaHorizonMs = 5_000;

export type EtaDecision = 'run' | 'hold' | 'defer';

/**
 * What to do with a task due in `waitMs`: run it now, hold it until due, or hand it back to
 * the broker with its due time. Without broker-side delays every wait is held (the only way).
 */
export function decideEta(waitMs: number, horizonMs: number, brokerDelays: boolean): EtaDecision {
  if (waitMs <= 0) return 'run';
  return brokerDelays && waitMs > horizonMs ? 'defer' : 'hold';
}

/** The etaHorizonMs worker option, defaulted and checked. */
export function etaHorizonOf(value: number | undefined): number {
  if (value === undefined) return defaultEtaHorizonMs;
  if (!Number.isFinite(value) || value < 0) throw new ConfigError([{ path: 'etaHorizonMs', message: `expected a number of ms >= 0, got ${value}` }]);
  return value;
}
