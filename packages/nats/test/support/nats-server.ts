import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The nats-server binary (Debian's package installs it here; .ci/setup.d/nats.sh ensures it). */
export const natsServerBinary = process.env.TQ_NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

/** A free loopback TCP port (bound, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface PrivateServer {
  readonly port: number;
  readonly dir: string;
  readonly process: ChildProcess;
  /** Resolves when the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts a nats-server with JetStream in a temp dir on a random loopback port, using `config`
 * (nats-server config text, appended after listen/jetstream settings), and waits until it
 * accepts clients. Tests own the process and must stop() it.
 */
export async function startNatsServer(config = '', options: { port?: number; dir?: string; name?: string } = {}): Promise<PrivateServer> {
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'tq-nats-')));
  const name = options.name ?? `tq-${port}`;
  const file = join(dir, `${name}.conf`);
  await writeFile(
    file,
    `server_name: ${name}\nlisten: 127.0.0.1:${port}\njetstream { store_dir: "${join(dir, name)}", max_memory_store: 64MB, max_file_store: 512MB }\n${config}\n`,
  );
  const child = spawn(natsServerBinary, ['-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    log += chunk.toString();
    if (log.length > 100_000) log = log.slice(-50_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 15_000;
  while (!/Server is ready/.test(log)) {
    if (child.exitCode !== null) throw new Error(`nats-server exited (${child.exitCode}):\n${log}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nats-server did not become ready:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    dir,
    process: child,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
