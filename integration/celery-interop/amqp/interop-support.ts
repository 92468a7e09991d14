import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import { deleteAmqpQueues } from '../../harness/amqp-cleanup.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const python = process.env.TQ_INTEROP_PYTHON ?? '/usr/bin/python3';

/** The RabbitMQ both sides use: TQ_TEST_AMQP_URL, else the local server's tq_test vhost. */
export const amqpUrl = process.env.TQ_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/tq_test';
/** The rpc:// backend on the same server (the tq adapter reads host and vhost from it). */
export const rpcUrl = amqpUrl.replace(/^amqps?:/, 'rpc:');

/** Queue names no other run uses. */
export function uniqueQueue(label: string): string {
  return `tqinterop-${label}-${randomBytes(4).toString('hex')}`;
}

let vhostReady: Promise<void> | undefined;

/**
 * Makes sure the tq_test vhost exists on the local RabbitMQ when the default URL is used: a
 * connection attempt first (fast), rabbitmqctl only when the vhost is missing. Once per process.
 */
export function ensureVhost(): Promise<void> {
  vhostReady ??= (async () => {
    if (process.env.TQ_TEST_AMQP_URL) return;
    try {
      await (await connect(amqpUrl)).close();
      return;
    } catch {
      // Missing vhost (or no server: the tests will say so).
    }
    for (const args of [['add_vhost', 'tq_test'], ['set_permissions', '-p', 'tq_test', 'guest', '.*', '.*', '.*']]) {
      try {
        execFileSync('rabbitmqctl', args, { stdio: 'ignore' });
      } catch {
        // Reported by the tests' first connection.
      }
    }
  })();
  return vhostReady;
}

const pythonEnv = (extra: Record<string, string>) => ({
  ...process.env,
  TQ_INTEROP_AMQP_URL: amqpUrl,
  TQ_INTEROP_BACKEND: 'rpc://',
  PYTHONUNBUFFERED: '1',
  PYTHONDONTWRITEBYTECODE: '1',
  ...extra,
});

/** Redis db the interop tests may use for results (never flushed: keys are per task id). */
export const redisBackendUrl = process.env.TQ_TEST_REDIS_URL ? process.env.TQ_TEST_REDIS_URL.replace(/\/\d*$/, '/14') : 'redis://127.0.0.1:6379/14';
export const natsUrl = process.env.TQ_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

export interface CeleryWorker {
  readonly process: ChildProcess;
  readonly hostname: string;
  /** Everything the worker printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts `celery worker --pool=solo` on `queues` and resolves once it prints "ready". */
export async function startCeleryWorker(
  queues: readonly string[],
  options: { backend?: string; maxPriority?: number; timeoutMs?: number } = {},
): Promise<CeleryWorker> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const hostname = `py-${randomBytes(3).toString('hex')}@interop`;
  const child = spawn(
    python,
    ['-m', 'celery', '-A', 'celery_app', 'worker', '--pool=solo', '-Q', queues.join(','), '-n', hostname,
      '--without-gossip', '--without-mingle', '--without-heartbeat', '-l', 'INFO'],
    {
      cwd: here,
      env: pythonEnv({
        ...(options.backend ? { TQ_INTEROP_BACKEND: options.backend } : {}),
        ...(options.maxPriority ? { TQ_INTEROP_MAX_PRIORITY: String(options.maxPriority) } : {}),
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let log = '';
  child.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const worker: CeleryWorker = {
    process: child,
    hostname,
    output: () => log,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Celery worker not ready within ${timeoutMs} ms:\n${log}`)), timeoutMs);
    const check = () => {
      if (/ready\./.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Celery worker exited with ${code}:\n${log}`));
    });
  }).catch(async (error: unknown) => {
    await worker.stop();
    throw error;
  });
  return worker;
}

const run = promisify(execFile);

/** Runs producer.py for one scenario and returns the JSON it printed. */
export async function runCeleryProducer<T>(scenario: string, queues: { queue: string; customQueue: string }): Promise<T> {
  try {
    const { stdout } = await run(python, ['producer.py', scenario], {
      cwd: here,
      env: pythonEnv({ TQ_INTEROP_QUEUE: queues.queue, TQ_INTEROP_CUSTOM_QUEUE: queues.customQueue }),
      timeout: 25_000,
    });
    const line = stdout.trim().split('\n').at(-1) ?? '';
    return JSON.parse(line) as T;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`producer.py ${scenario} failed: ${(error as Error).message}\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
}

/** Deletes the queues (and the same-named exchanges Celery and tq declare for them). */
export function deleteQueues(names: readonly string[]): Promise<void> {
  return deleteAmqpQueues(amqpUrl, names);
}
