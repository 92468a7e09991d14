import { describe, expect, it } from 'vitest';
import { Slots } from '../src/worker/slots.js';

describe('Slots', () => {
  it('grants free slots at once and waiters in arrival order', async () => {
    const slots = new Slots(1);
    expect(await slots.acquire()).toBe(true);
    const order: string[] = [];
    const first = slots.acquire().then((granted) => order.push(`first ${granted}`));
    const second = slots.acquire().then((granted) => order.push(`second ${granted}`));
    slots.release();
    await first;
    slots.release();
    await second;
    expect(order).toEqual(['first true', 'second true']);
    slots.release();
    expect(slots.active).toBe(0);
  });

  it('an abort ends the waits on that signal only, and later waits on it at once', async () => {
    const slots = new Slots(1);
    await slots.acquire();
    const controller = new AbortController();
    const aborted = [slots.acquire(controller.signal), slots.acquire(controller.signal)];
    const other = new AbortController();
    const kept = slots.acquire(other.signal);
    controller.abort();
    expect(await Promise.all(aborted)).toEqual([false, false]);
    expect(await slots.acquire(controller.signal)).toBe(false);
    slots.release();
    expect(await kept).toBe(true);
    expect(slots.active).toBe(1);
  });

  it('resize: growing wakes waiters at once; shrinking waits for running work to release', async () => {
    const slots = new Slots(1);
    await slots.acquire();
    const waiting = slots.acquire();
    slots.resize(2);
    expect(await waiting).toBe(true);
    expect(slots.active).toBe(2);
    slots.resize(1);
    const third = slots.acquire();
    let granted = false;
    void third.then(() => (granted = true));
    slots.release(); // pays the shrink
    await Promise.resolve();
    expect(granted).toBe(false);
    slots.release(); // now one of one is free
    expect(await third).toBe(true);
    expect(slots.size).toBe(1);
    expect(slots.active).toBe(1);
  });
});
