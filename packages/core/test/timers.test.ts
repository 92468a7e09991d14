import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_MS, setLongTimeout, withDeadline, withIdleDeadline } from '../src/adapter.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('setLongTimeout', () => {
  it('waits past the 2^31-1 ms setTimeout limit in chunks, firing once at the due time', () => {
    vi.useFakeTimers();
    const fired: number[] = [];
    const start = Date.now();
    const delay = 30 * 86_400_000; // 30 days > MAX_TIMER_MS (24.8 days)
    setLongTimeout(() => fired.push(Date.now() - start), delay);
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(delay - MAX_TIMER_MS - 1);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([delay]);
    vi.advanceTimersByTime(MAX_TIMER_MS * 2);
    expect(fired).toHaveLength(1);
  });

  it('clear() cancels it, also between chunks', () => {
    vi.useFakeTimers();
    const callback = vi.fn();
    const timer = setLongTimeout(callback, MAX_TIMER_MS * 3);
    vi.advanceTimersByTime(MAX_TIMER_MS + 10);
    timer.clear();
    vi.advanceTimersByTime(MAX_TIMER_MS * 3);
    expect(callback).not.toHaveBeenCalled();
  });

  it('a short or negative delay behaves as setTimeout', () => {
    vi.useFakeTimers();
    const callback = vi.fn();
    setLongTimeout(callback, -5);
    vi.advanceTimersByTime(0);
    expect(callback).toHaveBeenCalledTimes(1);
  });
});

describe('withDeadline', () => {
  it('rejects with the given error when the promise does not settle in time', async () => {
    const never = new Promise<never>(() => undefined);
    await expect(withDeadline(never, 20, () => new Error('silent'))).rejects.toThrow('silent');
  });

  it('passes a settled value or error through', async () => {
    await expect(withDeadline(Promise.resolve(1), 1000, () => new Error('no'))).resolves.toBe(1);
    await expect(withDeadline(Promise.reject(new Error('own')), 1000, () => new Error('no'))).rejects.toThrow('own');
  });

  it('no deadline when ms is 0 or Infinity', async () => {
    const p = Promise.resolve('x');
    expect(withDeadline(p, 0, () => new Error('no'))).toBe(p);
    expect(withDeadline(p, Number.POSITIVE_INFINITY, () => new Error('no'))).toBe(p);
  });
});

describe('withIdleDeadline', () => {
  it('lets a long series of answered steps go on past the deadline, and fails once the steps stop', async () => {
    vi.useFakeTimers();
    let steps = 0;
    let finish: (value: string) => void = () => undefined;
    const work = new Promise<string>((resolve) => (finish = resolve));
    const outcome = withIdleDeadline(work, 1_000, () => steps, () => new Error('silent')).then(
      (value) => `done ${value}`,
      (error: Error) => error.message,
    );
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(900);
      steps++;
    }
    finish('after 4.5 s');
    expect(await outcome).toBe('done after 4.5 s');

    const stalled = withIdleDeadline(new Promise<never>(() => undefined), 1_000, () => steps, () => new Error('silent')).catch(
      (error: Error) => error.message,
    );
    vi.advanceTimersByTime(500);
    steps++;
    vi.advanceTimersByTime(1_000); // moved in the first second: goes on
    vi.advanceTimersByTime(1_000); // still in the second: fails
    expect(await stalled).toBe('silent');
  });
});
