import { describe, expect, it } from 'vitest';
import { delayLeaveHeader, delayLevelsMs, delayTargetHeader, delayTopic, levelFor, nextHop, notBeforeHeader, withoutDelayHeaders } from '../src/delay-topics.js';

describe('Kafka delay topics', () => {
  it('waits in the longest level not longer than what remains, the shortest one below it', () => {
    expect(levelFor(100)).toBe(250);
    expect(levelFor(999)).toBe(250);
    expect(levelFor(1_000)).toBe(1_000);
    expect(levelFor(3_600_000)).toBe(1_024_000);
    expect(levelFor(365 * 86_400_000)).toBe(delayLevelsMs.at(-1));
  });

  it('a due message goes to its topic; one not due to a level, leaving it by its due time at the latest', () => {
    expect(nextHop('q', 1_000, 1_000)).toEqual({ topic: 'q', headers: {} });
    const now = 10_000;
    expect(nextHop('q', now + 5_000, now)).toEqual({
      topic: delayTopic(4_000),
      headers: { [delayTargetHeader]: 'q', [notBeforeHeader]: String(now + 5_000), [delayLeaveHeader]: String(now + 4_000) },
    });
    expect(nextHop('q', now + 100, now).headers[delayLeaveHeader]).toBe(String(now + 100));
  });

  it('strips only the delay headers for the queue', () => {
    expect(withoutDelayHeaders({ tq: 'x', [delayTargetHeader]: 'q', [notBeforeHeader]: '1', [delayLeaveHeader]: '1' })).toEqual({ tq: 'x' });
  });
});
