/**
 * Broker servers the fault suite starts itself, on a free port, so it may kill and restart them
 * (the shared services must never be restarted). Each keeps its data on disk across a SIGKILL:
 * - Redis: AOF with appendfsync always;
 * - NATS: JetStream with a store directory (file storage);
 * - PostgreSQL: a cluster of its own (initdb as the `postgres` user when run as root);
 * - RabbitMQ: a node of its own (name, ports, Erlang cookie, data dir); ~6 s per start here.
 * A server that cannot start on this machine (binary or user missing) is reported with the
 * reason, and the scenario says why it did not run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { BrokerName } from '../../harness/brokers.js';
import { tcpAnswers } from '../../harness/tcp.js';

export interface PrivateBroker {
  /** The broker URL (no tuning parameters). */
  readonly url: string;
  /** SIGKILLs the server (no shutdown, no flush beyond what its persistence already wrote). */
  kill(): Promise<void>;
  /** Starts it again on the same port and data; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Kills it and removes its data. */
  remove(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

function onPath(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`]).status === 0;
}

/** Whether the server serves requests yet (a port that accepts is not enough for PostgreSQL). */
type ReadyCheck = () => Promise<boolean>;

async function waitForPort(port: number, what: string, timeoutMs: number, child: ChildProcess, ready?: ReadyCheck): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const said = readFileSync(logOf(child), 'utf8').trim().split('\n').slice(-2).join(' / ');
      throw new Error(`${what} exited while starting (code ${child.exitCode}, signal ${child.signalCode}): ${said}`);
    }
    if ((await tcpAnswers('127.0.0.1', port, 500)) && (!ready || (await ready()))) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not accept connections on ${port} within ${timeoutMs} ms`);
}

/** One server process that can be SIGKILLed and started again with the same command. */
function restartable(url: string, port: number, what: string, startTimeoutMs: number, launch: () => ChildProcess, dir: string, ready?: ReadyCheck): PrivateBroker {
  let child: ChildProcess | undefined;
  const kill = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    // The whole group: RabbitMQ and PostgreSQL run as several processes.
    try {
      process.kill(-running.pid!, 'SIGKILL');
    } catch {
      running.kill('SIGKILL');
    }
    await exited;
  };
  return {
    url,
    kill,
    start: async () => {
      child = launch();
      child.on('error', () => undefined);
      try {
        await waitForPort(port, what, startTimeoutMs, child, ready);
      } catch (error) {
        await kill();
        throw error;
      }
    },
    remove: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The server's own output goes to server.log in its directory (the reason it did not start). */
const logs = new WeakMap<ChildProcess, string>();
const logOf = (child: ChildProcess): string => logs.get(child)!;
function launchLogged(dir: string, command: string, args: string[]): ChildProcess {
  const path = join(dir, 'server.log');
  const fd = openSync(path, 'a');
  try {
    const child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd] });
    logs.set(child, path);
    return child;
  } finally {
    closeSync(fd);
  }
}

function redisServer(port: number, dir: string): PrivateBroker {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--daemonize', 'no'];
  return restartable(`redis://127.0.0.1:${port}/0`, port, 'redis-server', 15_000, () => launchLogged(dir, 'redis-server', args), dir);
}

function natsServer(port: number, dir: string): PrivateBroker {
  const args = ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir];
  return restartable(`nats://127.0.0.1:${port}`, port, 'nats-server', 15_000, () => launchLogged(dir, 'nats-server', args), dir);
}

/** `command` as the service user when run as root (initdb, postgres and RabbitMQ refuse root or expect their own user). */
function asUser(user: string, command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', user, '--', command, ...args]] : [command, args];
}

function postgresServer(port: number, dir: string): PrivateBroker {
  const data = join(dir, 'data');
  const [initdb, initArgs] = asUser('postgres', 'initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const init = spawnSync(initdb, initArgs, { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed: ${(init.stderr || init.error?.message || '').trim().split('\n').at(-1)}`);
  const [postgres, args] = asUser('postgres', 'postgres', ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=on']);
  const launch = () => {
    // The lock files of the killed postmaster would stop the restart (its PID may linger as a
    // zombie in a container whose init does not reap): a rebooted host has none.
    rmSync(join(data, 'postmaster.pid'), { force: true });
    for (const name of [`.s.PGSQL.${port}`, `.s.PGSQL.${port}.lock`]) rmSync(join(dir, name), { force: true });
    return launchLogged(dir, postgres, args);
  };
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  // Until recovery ends, connections are refused with "the database system is starting up".
  const ready = async () => {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  return restartable(url, port, 'postgres', 30_000, launch, dir, ready);
}

function rabbitmqNode(port: number, dir: string): PrivateBroker {
  writeFileSync(join(dir, 'enabled_plugins'), '[].');
  const env = {
    HOME: dir,
    RABBITMQ_NODENAME: `tqfault${port}@localhost`,
    RABBITMQ_NODE_PORT: String(port),
    // Erlang distribution: its own port, away from the shared node's AMQP port + 20000.
    RABBITMQ_DIST_PORT: String(port + 1),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_FEATURE_FLAGS_FILE: join(dir, 'feature_flags'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
  };
  const [command, args] = asUser('rabbitmq', 'env', [...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'rabbitmq-server']);
  return restartable(`amqp://guest:guest@127.0.0.1:${port}`, port, 'rabbitmq-server', 60_000, () => launchLogged(dir, command, args), dir);
}

const binaries: Readonly<Record<string, string>> = { redis: 'redis-server', nats: 'nats-server', postgres: 'postgres', amqp: 'rabbitmq-server' };

/**
 * Starts a private `name` server, or explains why it cannot: resolves to the server or to the
 * reason. (Kafka's restart goes through the mock cluster's launcher instead.)
 */
export async function startPrivateBroker(name: BrokerName): Promise<PrivateBroker | string> {
  const binary = binaries[name];
  if (!binary) return `no private ${name} server in this suite`;
  if (!onPath(binary) && !(name === 'postgres' && onPath('initdb'))) return `${binary} is not installed`;
  const dir = mkdtempSync(join(tmpdir(), `tq-faults-${name}-`));
  if (process.getuid?.() === 0 && (name === 'amqp' || name === 'postgres')) spawnSync('chown', [name === 'amqp' ? 'rabbitmq' : 'postgres', dir]);
  const port = await freePort();
  try {
    const server = name === 'redis' ? redisServer(port, dir) : name === 'nats' ? natsServer(port, dir) : name === 'postgres' ? postgresServer(port, dir) : rabbitmqNode(port, dir);
    await server.start();
    return server;
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    return `a private ${binary} did not start: ${(error as Error).message}`;
  }
}
