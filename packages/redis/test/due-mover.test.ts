import { describe, expect, it } from 'vitest';
import { DueMover } from '../src/delayed-set.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('DueMover', () => {
  it('a broker closed during a pass (its calls throw synchronously) leaves no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      let listed = 0;
      let passes = 0;
      const closedWhileListing = new DueMover(() => {
        listed++;
        throw new Error('redis broker is closed');
      }, async () => ({ moved: 0, next: null }));
      const closedWhilePassing = new DueMover(
        async () => ['q'],
        () => {
          passes++;
          throw new Error('redis broker is closed');
        },
      );
      closedWhileListing.start();
      closedWhilePassing.start();
      await sleep(50);
      closedWhileListing.stop();
      closedWhilePassing.stop();
      expect([listed, passes]).toEqual([1, 1]);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
