/**
 * A 3-node JetStream cluster on loopback (three nats-server processes with routes, random
 * ports, a temp dir), a stream with 3 replicas, and a node killed (SIGKILL) in the middle of
 * the traffic: every published task must still be consumed. Publishes go through core's
 * RuntimeBroker, which retries connection-class failures, as the producer does in production.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { RuntimeBackend, RuntimeBroker } from '@tq/core/adapter';
import natsAdapter, { type NatsBroker } from '../src/index.js';
import { taskMessage } from './support/broker.js';
import { freePort, removeDir, startNatsServer, type PrivateServer } from './support/nats-server.js';

const nodes: PrivateServer[] = [];
let dir: string | undefined;

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
  if (dir) await removeDir(dir);
});

async function startCluster(): Promise<{ clientPorts: number[]; names: string[] }> {
  dir = await mkdtemp(join(tmpdir(), 'tq-nats-cluster-'));
  const clientPorts = [await freePort(), await freePort(), await freePort()];
  const routePorts = [await freePort(), await freePort(), await freePort()];
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(', ');
  const names = ['n1', 'n2', 'n3'];
  const started = await Promise.all(
    names.map((name, i) =>
      startNatsServer(`cluster { name: tqcluster, listen: 127.0.0.1:${routePorts[i]}, routes: [${routes}] }`, { port: clientPorts[i]!, dir: dir!, name }),
    ),
  );
  nodes.push(...started);
  return { clientPorts, names };
}

/** Waits until the cluster has a JetStream meta leader and accepts an R3 stream. */
async function connectWhenReady(broker: NatsBroker, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await broker.connect();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

describe('3-node JetStream cluster', () => {
  it('loses no task and no result when a node (the stream leader) is killed mid-traffic', async () => {
    const { clientPorts, names } = await startCluster();
    const url = new URL(
      `nats://127.0.0.1:${clientPorts[0]}?servers=${clientPorts.slice(1).map((p) => `127.0.0.1:${p}`).join(',')}&stream=TQCLUSTER&replicas=3&ackWaitMs=3000`,
    );
    const setup = natsAdapter.createBroker!(url, {}) as NatsBroker;
    await connectWhenReady(setup, 30_000);
    await setup.close();

    const retry = { maxRetries: 20, initialDelayMs: 200, maxDelayMs: 2_000 };
    const publisher = new RuntimeBroker(natsAdapter.createBroker!(url, {}), { retry });
    const consumerBroker = new RuntimeBroker(natsAdapter.createBroker!(url, {}), { retry });
    const queue = 'cluster-tasks';
    const total = 400;
    const received = new Map<string, number>();
    const controller = new AbortController();
    let allReceived!: () => void;
    const done = new Promise<void>((resolve) => (allReceived = resolve));
    const consuming = (async () => {
      for await (const delivery of consumerBroker.consume(queue, { prefetch: 10, signal: controller.signal })) {
        const id = String(delivery.message.headers['id']);
        received.set(id, (received.get(id) ?? 0) + 1);
        await delivery.ack().catch(() => undefined); // a lost ack means a redelivery, never a loss
        if (received.size === total) allReceived();
      }
    })();

    // Results stored on an R3 bucket before the kill must all be readable after it. Through
    // core's retry, as a worker stores them: the bucket's own stream may elect its leader after
    // the task stream's, and a store meanwhile gets "no responders" (a connection-class error).
    const results = new RuntimeBackend(natsAdapter.createResultBackend!(new URL(`${url.href}&bucket=tqcluster`), {}), { retry });
    await results.connect();
    const encoder = new TextEncoder();
    for (let i = 0; i < 50; i++) await results.store(`r-${i}`, encoder.encode(`{"status": "SUCCESS", "result": ${i}}`), {});

    // Find the stream leader: killing it forces a leader election under load.
    const nc = await connect({ servers: clientPorts.map((p) => `127.0.0.1:${p}`) });
    const leader = (await (await jetstreamManager(nc)).streams.info('TQCLUSTER')).cluster?.leader;
    await nc.close();
    const victim = nodes[names.indexOf(leader ?? 'n1')]!;

    let killedAt = -1;
    for (let i = 0; i < total; i++) {
      if (i === total / 4) {
        killedAt = i;
        await victim.stop('SIGKILL');
      }
      await publisher.publish(queue, taskMessage(`c-${i}`));
    }

    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 60_000));
    const outcome = await Promise.race([done.then(() => 'done' as const), timeout]);
    controller.abort();
    await consuming.catch(() => undefined);
    await Promise.all([publisher.close(), consumerBroker.close()]);

    const missingResults: string[] = [];
    for (let i = 0; i < 50; i++) {
      const record = await results.fetch(`r-${i}`);
      if (!record || !new TextDecoder().decode(record).includes(`"result": ${i}`)) missingResults.push(`r-${i}`);
    }
    await results.store('after-kill', encoder.encode('{"status": "SUCCESS"}'), {});
    expect(await results.fetch('after-kill')).not.toBeNull();
    await results.close();
    expect(missingResults, 'results lost').toEqual([]);

    const missing = Array.from({ length: total }, (_, i) => `c-${i}`).filter((id) => !received.has(id));
    const duplicates = [...received.values()].filter((n) => n > 1).length;
    console.info(`[nats cluster] killed ${leader} (stream leader) after ${killedAt} publishes; ${received.size}/${total} received, ${duplicates} redelivered`);
    expect(missing, `${outcome}: tasks lost`).toEqual([]);
  }, 120_000);
});
