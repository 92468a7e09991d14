/**
 * The outbox relay killed with SIGKILL between a publish and the delete of its row: another
 * relay (here the test's own) takes over once PostgreSQL drops the dead session's advisory
 * lock. Guarantee checked: at-least-once with a stable task id — every task arrives, in send
 * order per queue, and only the row in flight at the kill may arrive twice (same id).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createApp, type Delivery } from '@tq/core';
import { RuntimeBroker } from '@tq/core/adapter';
import { PostgresOutbox } from '@tq/postgres';
import redisAdapter from '@tq/redis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { brokersRequired, resolveBroker } from '../harness/brokers.js';

const child = fileURLToPath(new URL('./outbox-relay-child.mjs', import.meta.url));
const schema = `tqo_int_${randomBytes(4).toString('hex')}`;
const postgres = await resolveBroker('postgres');
const redis = await resolveBroker('redis');
const available = postgres.url !== undefined && redis.url !== undefined;

describe.skipIf(!available && !brokersRequired())('outbox relay under SIGKILL', () => {
  let relay: ChildProcess | undefined;
  afterAll(async () => {
    relay?.kill('SIGKILL');
    if (postgres.url) {
      const client = new pg.Client({ connectionString: postgres.url });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    }
    await postgres.stop();
    await redis.stop();
  });

  it('a relay killed between publish and delete: nothing lost, order kept, at most the in-flight task twice with its id', async () => {
    if (!postgres.url || !redis.url) throw new Error(`postgres and redis are required under CI=true: ${postgres.detail}; ${redis.detail}`);
    const pgUrl = `${postgres.url}${postgres.url.includes('?') ? '&' : '?'}schema=${schema}`;
    const redisUrl = new URL(redis.url);
    redisUrl.searchParams.set('global_keyprefix', `tqo-int-${randomBytes(4).toString('hex')}:`);
    const queue = `outbox-${randomUUID()}`;
    const total = 30;

    // Tasks written through the outbox in committed transactions, before any relay runs.
    const outbox = new PostgresOutbox(pgUrl);
    const producer = createApp({ broker: redisUrl.href, resultBackend: null, logLevel: 'silent', outbox });
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    const sent: string[] = [];
    try {
      for (let i = 0; i < total; i++) {
        await client.query('BEGIN');
        sent.push((await producer.sendTask('orders.confirm', [i], {}, { queue, transaction: client })).id);
        await client.query('COMMIT');
      }
    } finally {
      await client.end();
    }
    expect(await outbox.pending()).toBe(total);

    // The child relays; it is killed after its 10th publish, during the pause before the delete.
    relay = spawn(process.execPath, [child, pgUrl, redisUrl.href], { stdio: ['ignore', 'pipe', 'inherit'] });
    const publishedByChild: string[] = [];
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      relay!.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) if (line.startsWith('published ')) publishedByChild.push(line.slice('published '.length));
        if (publishedByChild.length >= 10) {
          relay!.kill('SIGKILL');
          resolve();
        }
      });
      relay!.on('exit', (code) => (publishedByChild.length >= 10 ? resolve() : reject(new Error(`relay exited early (${code})`))));
    });
    await new Promise((resolve) => relay!.on('exit', resolve));
    const leftAfterKill = await outbox.pending();
    expect(leftAfterKill, 'the row in flight at the kill is still in the outbox').toBe(total - publishedByChild.length + 1);

    // Another relay takes over (the dead session's lock is gone).
    const broker = new RuntimeBroker(redisAdapter.createBroker!(redisUrl, {}));
    const controller = new AbortController();
    const takeover = outbox.relay((q, message) => broker.publish(q, message), controller.signal);
    const consumer = new RuntimeBroker(redisAdapter.createBroker!(redisUrl, {}));
    const received: string[] = [];
    const reading = new AbortController();
    try {
      await expect.poll(() => outbox.pending(), { timeout: 20_000 }).toBe(0);
      const iterator = consumer.consume(queue, { prefetch: 50, signal: reading.signal })[Symbol.asyncIterator]();
      const deadline = Date.now() + 10_000;
      while (new Set(received).size < total && Date.now() < deadline) {
        const next = await Promise.race([iterator.next(), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1_000))]);
        if (!next || next.done) continue;
        const delivery: Delivery = next.value;
        received.push(String(delivery.message.headers['id']));
        await delivery.ack();
      }
      // Anything else that comes within a moment is a duplicate too.
      const extra = await Promise.race([iterator.next(), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 500))]);
      if (extra && !extra.done) {
        received.push(String(extra.value.message.headers['id']));
        await extra.value.ack();
      }
    } finally {
      reading.abort();
      controller.abort();
      await takeover;
      await consumer.close();
      await broker.close();
      await producer.close();
      await outbox.close();
    }
    const firstSeen = [...new Set(received)];
    expect(firstSeen, 'every task arrived, in send order').toEqual(sent);
    const duplicates = received.length - firstSeen.length;
    expect(duplicates, `duplicates: ${received.length - firstSeen.length}`).toBeLessThanOrEqual(1);
    if (duplicates === 1) expect(publishedByChild, 'the duplicate is the row in flight at the kill').toContain(received.find((id, i) => received.indexOf(id) !== i));
    console.info(`[outbox] relay killed after ${publishedByChild.length} publishes; takeover relayed ${leftAfterKill}; duplicates: ${duplicates}`);
  }, 90_000);
});
