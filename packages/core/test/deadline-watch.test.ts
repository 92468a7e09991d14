import { describe, expect, it } from 'vitest';
import { DeadlineWatch } from '../src/worker/deadline-watch.js';

describe('DeadlineWatch', () => {
  it('passes results and errors through, rejects work past its deadline, and everything on abort', async () => {
    const controller = new AbortController();
    const watch = new DeadlineWatch(controller.signal);
    await expect(watch.race(Promise.resolve(1), Date.now() + 1000)).resolves.toBe(1);
    await expect(watch.race(Promise.reject(new Error('no')), Date.now() + 1000)).rejects.toThrow('no');
    const started = Date.now();
    await expect(watch.race(new Promise(() => undefined), Date.now() + 100)).rejects.toThrow(/within the retry limit/);
    expect(Date.now() - started).toBeLessThan(1000);
    const hanging = Array.from({ length: 50 }, () => watch.race(new Promise(() => undefined), Date.now() + 60_000));
    controller.abort();
    for (const work of hanging) await expect(work).rejects.toThrow(/forced stop/);
    await expect(watch.race(Promise.resolve(2), Date.now() + 1000)).rejects.toThrow(/forced stop/);
  });
});
