import { afterEach, describe, expect, it, vi } from 'vitest';
import { runQueue } from '../src/cli/queue.js';
import { UnsupportedError } from '../src/errors.js';
import { memoryApp } from './helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('tq queue scheduled', () => {
  it('on a broker that cannot list its delayed messages, fails before printing a table header', async () => {
    const app = memoryApp();
    // As RabbitMQ's adapter answers (capabilities.listDelayed false).
    Object.defineProperty(app, 'queues', { value: { scheduled: () => Promise.reject(new UnsupportedError('this broker cannot list its delayed messages')) } });
    const printed: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (printed.push(String(chunk)), true));
    await expect(runQueue(app, ['scheduled', 'q1'], (message) => new Error(message))).rejects.toBeInstanceOf(UnsupportedError);
    expect(printed).toEqual([]);
    await app.close();
  });
});
