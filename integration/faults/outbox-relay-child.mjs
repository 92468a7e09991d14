// A relay process for outbox-relay-kill.test.ts: relays the outbox to Redis, printing
// "published <task id>" after each publish and pausing before the row is deleted, so a
// SIGKILL lands between publish and delete (the window at-least-once is about).
import { PostgresOutbox } from '@tq/postgres';
import redisAdapter from '@tq/redis';

const [pgUrl, redisUrl] = process.argv.slice(2);
const outbox = new PostgresOutbox(pgUrl);
const broker = redisAdapter.createBroker(new URL(redisUrl), {});
await broker.connect();
const controller = new AbortController();
await outbox.relay(async (queue, message) => {
  await broker.publish(queue, message);
  process.stdout.write(`published ${message.headers.id}\n`);
  await new Promise((resolve) => setTimeout(resolve, 100));
}, controller.signal);
