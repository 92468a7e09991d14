// The app the beat replica test runs with `tq beat --app`: one schedule, every second, every
// missed tick sent (catchUp all). Broker, backend and namespace come from the command line.
import amqpAdapter from '@tq/amqp';
import { createApp } from '@tq/core';
import natsAdapter from '@tq/nats';
import postgresAdapter from '@tq/postgres';
import redisAdapter from '@tq/redis';

const app = createApp({ adapters: [redisAdapter, natsAdapter, postgresAdapter, amqpAdapter], defaultQueue: process.env.BEAT_TEST_QUEUE });
app.schedule('tick', { task: 'beat.tick', every: '1s', catchUp: 'all' });
export default app;
