import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { decideEta, defaultEtaHorizonMs, etaHorizonOf } from '../src/worker/eta-horizon.js';

describe('eta horizon', () => {
  it('runs what is due, holds what is due within the horizon, defers the rest to a broker that delays', () => {
    expect(decideEta(0, 5_000, true)).toBe('run');
    expect(decideEta(-10, 5_000, true)).toBe('run');
    expect(decideEta(5_000, 5_000, true)).toBe('hold');
    expect(decideEta(5_001, 5_000, true)).toBe('defer');
    expect(decideEta(86_400_000, 0, true)).toBe('defer');
  });

  it('holds every wait when the broker cannot delay', () => {
    expect(decideEta(86_400_000, 5_000, false)).toBe('hold');
  });

  it('defaults to a few seconds and refuses a negative or non-finite horizon', () => {
    expect(etaHorizonOf(undefined)).toBe(defaultEtaHorizonMs);
    expect(defaultEtaHorizonMs).toBeLessThanOrEqual(10_000);
    expect(etaHorizonOf(0)).toBe(0);
    expect(() => etaHorizonOf(-1)).toThrow(ConfigError);
    expect(() => etaHorizonOf(Number.NaN)).toThrow(/etaHorizonMs/);
  });
});
