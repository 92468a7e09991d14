import { randomBytes } from 'node:crypto';

/** A name unique to this test run, safe as a stream, queue or bucket name. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

export const sharedNatsUrl = process.env.TQ_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
