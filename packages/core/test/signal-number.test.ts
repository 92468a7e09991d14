import { describe, expect, it } from 'vitest';
import { signalNumber } from '../src/worker/signal-number.js';

describe('signalNumber', () => {
  it("reads a terminate's signal as Celery's _signals.signum does", () => {
    expect(signalNumber('SIGKILL')).toBe(9);
    expect(signalNumber('KILL')).toBe(9);
    expect(signalNumber('sigint')).toBe(2);
    expect(signalNumber(9)).toBe(9);
  });

  it('takes TERM, Celery\'s default, for a missing or unknown signal', () => {
    expect(signalNumber(undefined)).toBe(15);
    expect(signalNumber('')).toBe(15);
    expect(signalNumber('SIGNOPE')).toBe(15);
    expect(signalNumber(-3)).toBe(15);
    expect(signalNumber({})).toBe(15);
  });
});
