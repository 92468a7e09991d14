/** The Python Celery peers of the monitoring interop tests, and the brokers they run on. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { connect } from 'amqplib';
import { deleteAmqpQueues } from '../../harness/amqp-cleanup.js';

export const python = process.env.TQ_PYTHON ?? '/usr/bin/python3';
const here = fileURLToPath(new URL('.', import.meta.url));

/** Results of both sides, in a Redis db no test flushes (keys are per task id). */
export const backendUrl = process.env.TQ_TEST_REDIS_URL ? process.env.TQ_TEST_REDIS_URL.replace(/\/\d*$/, '/14') : 'redis://127.0.0.1:6379/14';

export interface MonitoredBroker {
  readonly name: 'redis' | 'amqp';
  readonly url: string;
}

export const brokers: readonly MonitoredBroker[] = [
  { name: 'redis', url: process.env.TQ_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/15' },
  { name: 'amqp', url: process.env.TQ_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/tq_test' },
];

const named: string[] = [];

/** A name no other run uses; queues so named are deleted by deleteNamedQueues. */
export function uniqueName(label: string): string {
  const name = `tqmon-${label}-${randomBytes(4).toString('hex')}`;
  named.push(name);
  return name;
}

/** Deletes, on RabbitMQ, every durable queue this file named (Redis lists vanish when empty). */
export async function deleteNamedQueues(broker: MonitoredBroker): Promise<void> {
  if (broker.name === 'amqp') await deleteAmqpQueues(broker.url, named).catch(() => undefined);
}

/** Creates `vhost` on the local RabbitMQ (guest may use it); a no-op when it exists. */
export function addVhost(vhost: string): void {
  execFileSync('rabbitmqctl', ['add_vhost', vhost], { stdio: 'ignore' });
  execFileSync('rabbitmqctl', ['set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*'], { stdio: 'ignore' });
}

export function deleteVhost(vhost: string): void {
  try {
    execFileSync('rabbitmqctl', ['delete_vhost', vhost], { stdio: 'ignore' });
  } catch {
    // Already gone.
  }
}

/** `rabbitmqctl list_exchanges` for one exchange: its type, durability and auto-delete flag. */
export function describeExchange(vhost: string, name: string): { type: string; durable: boolean; autoDelete: boolean } | null {
  const out = execFileSync('rabbitmqctl', ['list_exchanges', '-q', '--no-table-headers', '-p', vhost, 'name', 'type', 'durable', 'auto_delete'], { encoding: 'utf8' });
  for (const line of out.split('\n')) {
    const [exchange, type, durable, autoDelete] = line.trim().split('\t');
    if (exchange === name) return { type: type!, durable: durable === 'true', autoDelete: autoDelete === 'true' };
  }
  return null;
}

/** Makes sure the default test vhost exists (the AMQP interop tests' tq_test). */
export async function ensureAmqp(url: string): Promise<void> {
  try {
    await (await connect(url)).close();
  } catch {
    addVhost(decodeURIComponent(new URL(url).pathname.slice(1)) || '/');
  }
}

function pythonEnv(brokerUrl: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, TQ_MON_BROKER: brokerUrl, TQ_MON_BACKEND: backendUrl, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1', ...extra };
}

/** A child process whose output lines the test can wait for. */
export class PythonPeer {
  readonly process: ChildProcess;
  #output = '';
  readonly #waiters = new Set<() => void>();

  constructor(args: readonly string[], brokerUrl: string, env: NodeJS.ProcessEnv = {}) {
    this.process = spawn(python, args, { cwd: here, env: pythonEnv(brokerUrl, env), stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (chunk: Buffer) => {
      this.#output += chunk.toString();
      for (const wake of [...this.#waiters]) wake();
    };
    this.process.stdout!.on('data', onData);
    this.process.stderr!.on('data', onData);
    this.process.once('exit', () => {
      for (const wake of [...this.#waiters]) wake();
    });
  }

  get output(): string {
    return this.#output;
  }

  get exited(): boolean {
    return this.process.exitCode !== null || this.process.signalCode !== null;
  }

  /** Resolves once `test` holds for the output so far; rejects on exit or after `timeoutMs`. */
  waitFor<T>(what: string, test: (output: string) => T | undefined | false, timeoutMs = 20_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const done = (finish: () => void) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        finish();
      };
      const check = () => {
        const found = test(this.#output);
        if (found) return done(() => resolve(found));
        if (this.exited) done(() => reject(new Error(`${what}: the process exited first:\n${this.#output.slice(-4000)}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`${what}: not within ${timeoutMs} ms:\n${this.#output.slice(-4000)}`))), timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

export interface MonitorEvent {
  readonly type: string;
  readonly hostname: string;
  readonly uuid?: string;
  readonly [field: string]: unknown;
}

export interface MonitorState {
  readonly tasks: Record<string, Record<string, unknown>>;
  readonly workers: Record<string, Record<string, unknown>>;
}

/** Celery's EventReceiver + State (what Flower runs), printing each event it gets. */
export class EventsMonitor extends PythonPeer {
  static async start(brokerUrl: string): Promise<EventsMonitor> {
    const monitor = new EventsMonitor(['events_monitor.py'], brokerUrl);
    await monitor.waitFor('the event monitor to consume', (out) => out.includes('READY'));
    return monitor;
  }

  events(): MonitorEvent[] {
    return this.output
      .split('\n')
      .filter((line) => line.startsWith('EVENT '))
      .map((line) => JSON.parse(line.slice(6)) as MonitorEvent);
  }

  waitForEvent(what: string, match: (event: MonitorEvent) => boolean, timeoutMs = 20_000): Promise<MonitorEvent> {
    return this.waitFor(what, () => this.events().find(match), timeoutMs);
  }

  /** The State the receiver has built so far (it keeps running). */
  async snapshot(): Promise<MonitorState> {
    const before = this.#states().length;
    this.process.kill('SIGUSR1');
    await this.waitFor('a state snapshot', () => this.#states().length > before);
    return this.#states().at(-1)!;
  }

  /** Stops the receiver and returns the State it built. */
  async state(): Promise<MonitorState> {
    await this.stop();
    const state = this.#states().at(-1);
    if (!state) throw new Error(`the event monitor printed no state:\n${this.output.slice(-4000)}`);
    return state;
  }

  #states(): MonitorState[] {
    return this.output
      .split('\n')
      .filter((line) => line.startsWith('STATE '))
      .map((line) => JSON.parse(line.slice(6)) as MonitorState);
  }
}

/** `celery worker` with events (-E), heartbeats and remote control on, as a production worker runs. */
export async function startCeleryWorker(brokerUrl: string, queue: string, extraArgs: readonly string[] = []): Promise<PythonPeer & { hostname: string }> {
  const hostname = `py-${randomBytes(3).toString('hex')}@monitoring`;
  const worker = Object.assign(
    new PythonPeer(['-m', 'celery', '-A', 'celery_app', 'worker', '--pool=solo', '-E', '-Q', queue, '-n', hostname, '--without-mingle', '--without-gossip', '-l', 'INFO', ...extraArgs], brokerUrl),
    { hostname },
  );
  try {
    await worker.waitFor('the Celery worker to be ready', (out) => /\bready\./.test(out));
  } catch (error) {
    await worker.stop();
    throw error;
  }
  return worker;
}

/** Runs `celery -A celery_app <args…> --json` and parses the JSON it prints (Celery's CLI, as a user runs it). */
export async function celeryCli(brokerUrl: string, args: readonly string[], timeoutMs = 30_000): Promise<{ code: number | null; json: unknown; output: string }> {
  const peer = new PythonPeer(['-m', 'celery', '-A', 'celery_app', ...args], brokerUrl);
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => peer.process.kill('SIGKILL'), timeoutMs);
    peer.process.once('exit', (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode);
    });
  });
  const line = peer.output.split('\n').find((l) => l.startsWith('{') || l.startsWith('['));
  let json: unknown = null;
  try {
    json = line ? JSON.parse(line) : null;
  } catch {
    json = null;
  }
  return { code, json, output: peer.output };
}

/** Flower 2.0.1 from source, beside the repository (shared/flower; see its README). */
export const flowerDir = process.env.TQ_FLOWER_DIR ?? fileURLToPath(new URL('../../../../shared/flower/', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Flower, with the monitoring Celery app (so its task names are known), its HTTP API open on loopback. */
export class Flower extends PythonPeer {
  readonly baseUrl: string;

  private constructor(brokerUrl: string, port: number) {
    super([`${flowerDir}run_flower.py`, '-A', 'celery_app', 'flower', `--port=${port}`, '--address=127.0.0.1'], brokerUrl, {
      FLOWER_UNAUTHENTICATED_API: '1',
      PYTHONPATH: flowerDir,
    });
    this.baseUrl = `http://127.0.0.1:${port}`;
  }

  static async start(brokerUrl: string): Promise<Flower> {
    if (!existsSync(`${flowerDir}run_flower.py`)) {
      throw new Error(`Flower's source is not at ${flowerDir} (shared/flower beside the repository; or set TQ_FLOWER_DIR)`);
    }
    const flower = new Flower(brokerUrl, await freePort());
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (flower.exited) throw new Error(`Flower exited:\n${flower.output.slice(-4000)}`);
      try {
        if ((await fetch(`${flower.baseUrl}/api/workers`)).ok) return flower;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await flower.stop();
        throw new Error(`Flower did not answer within 30 s:\n${flower.output.slice(-4000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async get<T>(path: string): Promise<T> {
    const response = await fetch(`${this.baseUrl}${path}`);
    if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  }

  async post(path: string, form: Record<string, string> = {}): Promise<{ status: number; body: string }> {
    const response = await fetch(`${this.baseUrl}${path}`, { method: 'POST', body: new URLSearchParams(form) });
    return { status: response.status, body: await response.text() };
  }
}
