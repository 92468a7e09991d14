import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AdapterOptions } from '@tq/core/adapter';

const fixture = fileURLToPath(new URL('../fixtures/count-worker.mjs', import.meta.url));

export interface WorkerProcessOptions {
  readonly broker: string;
  readonly backend: string | null;
  readonly queue: string;
  readonly log: string;
  readonly pool: 'async' | 'processes';
  readonly concurrency: number;
  readonly prefetch: number;
  /** The endpoint's adapter options: a createTopic there is served to the child over IPC. */
  readonly adapterOptions: AdapterOptions;
}

type TopicCreator = (topic: string, partitions: number) => Promise<void>;

/** Starts fixtures/count-worker.mjs in its own process (so it can be SIGKILLed); resolves once it consumes. */
export async function startWorkerProcess(options: WorkerProcessOptions): Promise<ChildProcess> {
  const createTopic = options.adapterOptions['createTopic'] as TopicCreator | undefined;
  const child = spawn(process.execPath, [fixture], {
    env: {
      ...process.env,
      TQ_FAULT_BROKER: options.broker,
      TQ_FAULT_BACKEND: options.backend ?? '',
      TQ_FAULT_QUEUE: options.queue,
      TQ_FAULT_LOG: options.log,
      TQ_FAULT_POOL: options.pool,
      TQ_FAULT_CONCURRENCY: String(options.concurrency),
      TQ_FAULT_PREFETCH: String(options.prefetch),
      TQ_FAULT_TOPICS_VIA_PARENT: createTopic ? '1' : '0',
    },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  child.on('message', (message: { type?: string; n?: number; topic?: string; partitions?: number }) => {
    if (message.type !== 'create-topic' || !createTopic) return;
    createTopic(message.topic!, message.partitions ?? 1).then(
      () => child.connected && child.send({ type: 'topic-created', n: message.n }),
      (error: Error) => child.connected && child.send({ type: 'topic-created', n: message.n, error: error.message }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    // Generous: executors of the processes pool each import the app, on a loaded CI machine.
    const timer = setTimeout(() => {
      // Not left behind: a worker that got ready late would live on after the test.
      child.kill('SIGKILL');
      reject(new Error('the worker process did not get ready within 90 s'));
    }, 90_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the worker process exited while starting (code ${code}, signal ${signal})`));
    });
  });
  return child;
}

/** SIGKILLs the worker (its executors follow it: they die with their parent). */
export async function killWorkerProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
