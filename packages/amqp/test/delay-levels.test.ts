import { describe, expect, it } from 'vitest';
import { delayLevels, delayRoutingKey, delayUnitMs, entryExchange, levelName, maxDelayMs } from '../src/delay-levels.js';

/** The delay a routing key spells: the TTLs of the level queues it passes through. */
function spelled(key: string): number {
  const bits = key.split('.').slice(0, delayLevels);
  return bits.reduce((sum, bit, i) => sum + (bit === '1' ? 2 ** (delayLevels - 1 - i) * delayUnitMs : 0), 0);
}

describe('AMQP delay levels', () => {
  it('spells the delay in binary, most significant level first, rounded up to the unit, then the queue', () => {
    const key = delayRoutingKey(1_000, 'celery.video');
    expect(key.endsWith('.celery.video')).toBe(true);
    expect(key.split('.')).toHaveLength(delayLevels + 2);
    expect(spelled(key)).toBe(Math.ceil(1_000 / delayUnitMs) * delayUnitMs);
    for (const ms of [1, 15, 16, 17, 60_000, 3_600_000, 86_400_000 * 7]) {
      const total = spelled(delayRoutingKey(ms, 'q'));
      expect(total, `${ms} ms`).toBeGreaterThanOrEqual(ms);
      expect(total - ms, `${ms} ms`).toBeLessThan(delayUnitMs);
    }
  });

  it('enters the cascade at the level of the highest 1 bit (the levels above only pass it on)', () => {
    for (const ms of [1, 16, 17, 1_000, 30_000, 3_600_000, maxDelayMs, maxDelayMs * 3]) {
      const key = delayRoutingKey(ms, 'q').split('.').slice(0, delayLevels);
      const top = delayLevels - 1 - key.indexOf('1');
      expect(entryExchange(ms), `${ms} ms`).toBe(levelName(top));
    }
    expect(entryExchange(30_000)).toBe('tq.delay.10');
  });

  it('caps a delay beyond the longest cascade', () => {
    expect(spelled(delayRoutingKey(maxDelayMs * 3, 'q'))).toBe(maxDelayMs);
    expect(maxDelayMs).toBeGreaterThan(49 * 86_400_000);
  });
});
