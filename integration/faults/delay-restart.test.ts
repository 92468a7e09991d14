/**
 * Durable delays survive a broker restart (issue #14): countdown tasks wait in the broker's own
 * delay store (Redis: the sorted set; NATS: messages on the stream, naked with a delay), the
 * broker is stopped (SIGTERM) and started again on the same data directory while they wait, and
 * every task then runs exactly once, not before its due time. Each test starts a PRIVATE server
 * on a free port (never the shared one): redis-server with AOF, nats-server with a JetStream
 * store directory. Runs are counted in this process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App, type Worker } from '@tq/core';
import { sleep } from '@tq/conformance';
import natsAdapter from '@tq/nats';
import redisAdapter from '@tq/redis';
import { afterEach, describe, expect, it } from 'vitest';

/** A server process we own: started, stopped with SIGTERM and started again on the same directory. */
class PrivateServer {
  readonly port: number;
  readonly dir: string;
  readonly #args: (port: number, dir: string) => string[];
  readonly #command: string;
  #process: ChildProcess | undefined;
  #log = '';

  private constructor(command: string, args: (port: number, dir: string) => string[], port: number) {
    this.#command = command;
    this.#args = args;
    this.port = port;
    this.dir = mkdtempSync(join(tmpdir(), `tq-${command}-`));
  }

  static async start(command: string, args: (port: number, dir: string) => string[]): Promise<PrivateServer> {
    const server = new PrivateServer(command, args, await freePort());
    await server.#spawn();
    return server;
  }

  async #spawn(): Promise<void> {
    const child = spawn(this.#command, this.#args(this.port, this.dir), { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (this.#log += d));
    child.stderr!.on('data', (d) => (this.#log += d));
    this.#process = child;
    const deadline = Date.now() + 10_000;
    while (!(await answers(this.port))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${this.#command} did not start on port ${this.port}:\n${this.#log}`);
      await sleep(50);
    }
  }

  /** SIGTERM (the server's own clean shutdown), wait for the exit, then start it again. */
  async restart(downMs: number): Promise<void> {
    await this.stop();
    await sleep(downMs);
    await this.#spawn();
  }

  async stop(): Promise<void> {
    const child = this.#process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000).then(() => child.kill('SIGKILL'))]);
    await exited;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

const servers: PrivateServer[] = [];
const apps: App[] = [];
const workers: Worker[] = [];
afterEach(async () => {
  await Promise.allSettled(workers.splice(0).map((w) => w.stop({ force: true })));
  await Promise.allSettled(apps.splice(0).map((a) => a.close()));
  await Promise.allSettled(servers.splice(0).map((s) => s.dispose()));
}, 30_000);

/**
 * Sends `count` countdown tasks due 4–6 s from now through `brokerUrl`, restarts `server` while
 * they wait, and checks that each ran once, not early. The worker's ETA horizon (1 s) is below
 * every delay, so no worker holds them: they wait in the broker across the restart.
 */
async function delaysSurviveRestart(server: PrivateServer, brokerUrl: string, adapter: typeof redisAdapter | typeof natsAdapter, count: number): Promise<void> {
  const runs = new Map<string, number[]>();
  const worker = createApp({ broker: brokerUrl, adapters: [adapter], resultBackend: null, logLevel: 'silent' });
  apps.push(worker);
  worker.task('faults.due', (label: string) => void runs.set(label, [...(runs.get(label) ?? []), Date.now()]));
  const running = worker.worker({ concurrency: 4, etaHorizonMs: 1_000 });
  workers.push(running);
  await running.start();

  const producer = createApp({ broker: brokerUrl, adapters: [adapter], resultBackend: null, logLevel: 'silent' });
  apps.push(producer);
  const due = new Map<string, number>();
  const start = Date.now();
  for (let i = 0; i < count; i++) {
    const label = `t${i}`;
    const at = start + 4_000 + Math.round((2_000 * i) / count);
    due.set(label, at);
    await producer.sendTask('faults.due', [label], {}, { eta: new Date(at) });
  }
  await producer.close();
  expect(running.inspect('scheduled'), 'the worker holds delayed tasks (they must wait in the broker)').toEqual([]);

  await server.restart(500);
  expect(Date.now() - start, 'the restart took longer than the shortest delay: the test proves nothing').toBeLessThan(4_000);
  const deadline = Date.now() + 25_000;
  while (runs.size < count && Date.now() < deadline) await sleep(100);
  // Time for a second copy of any of them to run.
  await sleep(1_500);
  expect([...runs.keys()].sort(), 'every delayed task ran after the restart').toEqual([...due.keys()].sort());
  for (const [label, times] of runs) {
    expect(times, `runs of ${label}`).toHaveLength(1);
    expect(times[0]!, `${label} ran before its due time`).toBeGreaterThanOrEqual(due.get(label)! - 50);
  }
}

describe('delayed tasks survive a broker restart', () => {
  it('on a private redis-server with AOF: each runs once, not early', async () => {
    const server = await PrivateServer.start('redis-server', (port, dir) => ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir, '--save', '']);
    servers.push(server);
    await delaysSurviveRestart(server, `redis://127.0.0.1:${server.port}/0`, redisAdapter, 20);
  }, 60_000);

  it('on a private nats-server with a JetStream store: each runs once, not early', async () => {
    const server = await PrivateServer.start('nats-server', (port, dir) => ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir]);
    servers.push(server);
    await delaysSurviveRestart(server, `nats://127.0.0.1:${server.port}`, natsAdapter, 20);
  }, 60_000);
});
