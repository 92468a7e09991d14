/** Spawning Python Celery (Debian's /usr/bin/python3) for the interop tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const python = process.env.TQ_PYTHON ?? '/usr/bin/python3';
export const here = fileURLToPath(new URL('.', import.meta.url));

export interface InteropEnv {
  readonly url: string;
  readonly queue: string;
  readonly customQueue: string;
  /** kombu's global_keyprefix, for tests that must not touch the unprefixed shared keys. */
  readonly prefix?: string;
  /** A broker other than the Redis at `url` (which stays the result backend), e.g. RabbitMQ. */
  readonly brokerUrl?: string;
}

function env(e: InteropEnv): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TQ_INTEROP_REDIS_URL: e.url,
    TQ_INTEROP_QUEUE: e.queue,
    TQ_INTEROP_CUSTOM_QUEUE: e.customQueue,
    TQ_INTEROP_PREFIX: e.prefix ?? '',
    TQ_INTEROP_BROKER_URL: e.brokerUrl ?? '',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONUNBUFFERED: '1',
  };
}

/** Runs producer.py <scenario> and parses the JSON line it prints. */
export function runProducer(e: InteropEnv, scenario: string): Promise<Record<string, unknown>> {
  return runScript(e, 'producer.py', [scenario]);
}

/** Runs a Python script of this directory and parses the last JSON line it prints. */
export async function runScript(e: InteropEnv, script: string, args: readonly string[]): Promise<Record<string, unknown>> {
  const child = spawn(python, [script, ...args], { cwd: here, env: env(e), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${script} ${args.join(' ')} exited with ${code}:\n${stderr.slice(-3000)}`);
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as Record<string, unknown>;
}

export interface CeleryWorker {
  readonly process: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `celery worker` (threads pool unless `pool` says otherwise) on the two queues and
 * resolves once it is consuming. With the threads pool and prefetch multiplier 1 on Redis,
 * Celery 5.2 acks a message only when its consumer loop next wakes (celery/celery#6941), so a
 * second message for a full window can wait ~10 s: use `prefork` where the timing matters.
 */
export async function startCeleryWorker(e: InteropEnv, pool: 'threads' | 'prefork' | 'solo' = 'threads'): Promise<CeleryWorker> {
  const child = spawn(
    python,
    ['-m', 'celery', '-A', 'celery_app', 'worker', '-P', pool, '-c', '2', '-Q', `${e.queue},${e.customQueue}`,
      '-n', `interop-${e.queue}@%h`, '--without-mingle', '--without-gossip', '--without-heartbeat', '-l', 'INFO'],
    { cwd: here, env: env(e), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`celery worker not ready in 20 s:\n${output.slice(-3000)}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/\bready\./.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`celery worker exited with ${code}:\n${output.slice(-3000)}`));
    });
  });
  await ready;
  return {
    process: child,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM'); // warm shutdown: unacked messages are restored by kombu
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
