import { describe, expect, it } from 'vitest';
import { createJsonLogger } from '../src/index.js';

describe('createJsonLogger', () => {
  it('writes one JSON object a line with level, time, msg, bindings and fields; redacts broker passwords', () => {
    const lines: string[] = [];
    const logger = createJsonLogger({ level: 'info', bindings: { worker: 'w1@host' }, write: (line) => lines.push(line) });
    logger.debug('not shown');
    logger.info('succeeded tq.add[abc]', { task_id: 'abc', task: 'tq.add' });
    logger.warn('broker amqp://guest:s3cret@rabbit:5672/ is down');
    expect(lines).toHaveLength(2);
    const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(first).toMatchObject({ level: 'info', msg: 'succeeded tq.add[abc]', worker: 'w1@host', task_id: 'abc', task: 'tq.add' });
    expect(first!['time']).toEqual(expect.any(Number));
    expect(second).toMatchObject({ level: 'warn' });
    expect(lines[1]).not.toContain('s3cret');
    expect(second!['msg']).toContain('amqp://guest:***@rabbit:5672/');
    for (const line of lines) expect(line.endsWith('\n')).toBe(true);
  });
});
