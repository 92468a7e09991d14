/**
 * Throwaway redis-server processes for the TLS, password and Sentinel tests: each test file
 * starts its own on free ports, so the shared server's configuration is never touched.
 * A missing redis-server binary fails the test (CI installs it: .ci/setup.d/redis.sh).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface SpawnedRedis {
  readonly port: number;
  readonly dir: string;
  stop(): Promise<void>;
}

async function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${output.slice(-2000)}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (pattern.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${output.slice(-2000)}`));
    });
  });
}

function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
}

/** A redis-server with `args` (e.g. --requirepass, TLS files) on a free port, no persistence. */
export async function startRedis(args: (dir: string, port: number) => string[]): Promise<SpawnedRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'tq-redis-'));
  const port = await freePort();
  const child = spawn('redis-server', ['--save', '', '--appendonly', 'no', '--dir', dir, ...args(dir, port)], { stdio: 'pipe' });
  await waitForLine(child, /Ready to accept connections/, 10_000);
  return { port, dir, stop: stopper(child, dir) };
}

/** A Sentinel monitoring 127.0.0.1:`masterPort` as `masterName`, quorum 1. */
export async function startSentinel(masterName: string, masterPort: number, masterPassword?: string): Promise<SpawnedRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'tq-sentinel-'));
  const port = await freePort();
  const config = [
    `port ${port}`,
    'bind 127.0.0.1',
    `dir ${dir}`,
    `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 1`,
    ...(masterPassword ? [`sentinel auth-pass ${masterName} ${masterPassword}`] : []),
  ].join('\n');
  const file = join(dir, 'sentinel.conf');
  writeFileSync(file, `${config}\n`);
  const child = spawn('redis-server', [file, '--sentinel'], { stdio: 'pipe' });
  await waitForLine(child, /\+monitor master/, 10_000);
  return { port, dir, stop: stopper(child, dir) };
}

/** A self-signed CA-less certificate for 127.0.0.1/localhost, written into `dir`. */
export function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'ignore' });
  return { cert, key };
}
