/**
 * Authentication and TLS against private nats-server processes (random loopback ports, temp
 * dirs, JetStream on): token, user/password, nkey, server TLS and mutual TLS. Rejected
 * credentials must surface as an AuthError that does not echo the secret.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTqError, RuntimeBroker, type Broker } from '@tq/core/adapter';
import natsAdapter, { type KvResultBackend, type NatsBroker } from '../src/index.js';
import { take, taskMessage } from './support/broker.js';
import { removeDir, startNatsServer, type PrivateServer } from './support/nats-server.js';
import { uniqueName } from './support/names.js';
import { operatorSetup } from './support/jwt.js';
import { makeTlsFiles, type TlsFiles } from './support/tls.js';

let dir: string;
let tls: TlsFiles;
const servers: PrivateServer[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tq-nats-auth-'));
  tls = await makeTlsFiles(dir);
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  await removeDir(dir);
});

async function server(config: string): Promise<PrivateServer> {
  const s = await startNatsServer(config, { dir });
  servers.push(s);
  return s;
}

/** Publishes one task through `url` and reads it back: proves the connection is usable. */
async function roundTrip(url: string, adapterOptions: Record<string, unknown> = {}): Promise<void> {
  const broker = natsAdapter.createBroker!(new URL(url), adapterOptions) as NatsBroker;
  const controller = new AbortController();
  try {
    await broker.connect();
    const queue = uniqueName('auth');
    await broker.publish(queue, taskMessage('auth-1'));
    const [d] = await take(broker.consume(queue, { prefetch: 1, signal: controller.signal })[Symbol.asyncIterator](), 1);
    expect(d!.message.headers['id']).toBe('auth-1');
    await d!.ack();
  } finally {
    controller.abort();
    await broker.close();
  }
}

/** connect() must fail with an AuthError (TQ_AUTH_FAILED, not retried) that does not contain `secret`. */
async function expectRejected(url: string, secret: string): Promise<void> {
  const broker: Broker = natsAdapter.createBroker!(new URL(url), {});
  const error = await new RuntimeBroker(broker).connect().then(
    () => undefined,
    (e: unknown) => e,
  );
  await broker.close();
  expect(isTqError(error, 'TQ_AUTH_FAILED'), `expected AuthError, got ${String(error)}`).toBe(true);
  expect(String((error as Error).message)).toMatch(/rejected the credentials/);
  expect(String((error as Error).message)).not.toContain(secret);
}

describe('authentication', () => {
  it('token, as ?token= and as the URL user', async () => {
    const s = await server('authorization { token: "tq-t0ken-s3cret" }');
    await roundTrip(`nats://127.0.0.1:${s.port}?token=tq-t0ken-s3cret`);
    await roundTrip(`nats://tq-t0ken-s3cret@127.0.0.1:${s.port}`);
    await expectRejected(`nats://127.0.0.1:${s.port}?token=wrong-t0ken`, 'wrong-t0ken');
  });

  it('user and password (URL-encoded), with a wrong password rejected without leaking it', async () => {
    const s = await server('authorization { users: [ { user: alice, password: "p@ss w0rd:x" } ] }');
    await roundTrip(`nats://alice:${encodeURIComponent('p@ss w0rd:x')}@127.0.0.1:${s.port}`);
    await expectRejected(`nats://alice:guessed-pw@127.0.0.1:${s.port}`, 'guessed-pw');
  });

  it('nkey (seed in ?nkey=)', async () => {
    const user = nkeys.createUser();
    const seed = new TextDecoder().decode(user.getSeed());
    const s = await server(`authorization { users: [ { nkey: ${user.getPublicKey()} } ] }`);
    await roundTrip(`nats://127.0.0.1:${s.port}?nkey=${seed}`);
    const other = new TextDecoder().decode(nkeys.createUser().getSeed());
    await expectRejected(`nats://127.0.0.1:${s.port}?nkey=${other}`, other);
  });

  it('creds file (operator mode: JWT + seed), and an untrusted one rejected', async () => {
    const setup = operatorSetup();
    const s = await server(setup.serverConfig);
    const creds = join(dir, 'user.creds');
    const untrusted = join(dir, 'stranger.creds');
    await writeFile(creds, setup.creds);
    await writeFile(untrusted, setup.untrustedCreds);
    await roundTrip(`nats://127.0.0.1:${s.port}?creds=${encodeURIComponent(creds)}`);
    const strangerSeed = /^SU[A-Z0-9]+$/m.exec(setup.untrustedCreds)![0];
    await expectRejected(`nats://127.0.0.1:${s.port}?creds=${encodeURIComponent(untrusted)}`, strangerSeed);
  });

  it('redacts secrets in the URL the adapter reports', async () => {
    const error = await new RuntimeBroker(natsAdapter.createBroker!(new URL('nats://bob:hunter2@127.0.0.1:1'), {}), {
      retry: { maxRetries: 0, initialDelayMs: 1, maxDelayMs: 1 },
    })
      .connect()
      .catch((e: unknown) => e);
    expect(isTqError(error, 'TQ_BROKER_UNAVAILABLE')).toBe(true);
    expect(String((error as Error).message)).toContain('nats://bob:***@127.0.0.1:1');
    expect(String(error)).not.toContain('hunter2');
  });

  it('refuses two authentication methods at once, naming both', () => {
    expect(() => natsAdapter.createBroker!(new URL('nats://bob:pw@127.0.0.1:4222?token=abc'), {})).toThrow(/choose one authentication method, got pass \+ token/);
  });
});

describe('TLS', () => {
  it('tls:// with the CA given as ?tlsCa=, and the KV backend on the same server', async () => {
    const s = await server(`tls { cert_file: "${tls.cert}", key_file: "${tls.key}" }`);
    await roundTrip(`tls://127.0.0.1:${s.port}?tlsCa=${encodeURIComponent(tls.ca)}`);
    const backend = natsAdapter.createResultBackend!(new URL(`tls://127.0.0.1:${s.port}?tlsCa=${encodeURIComponent(tls.ca)}&bucket=tls-results`), {}) as KvResultBackend;
    try {
      await backend.connect();
      await backend.store('t1', new TextEncoder().encode('{"status": "SUCCESS"}'), {});
      expect(new TextDecoder().decode((await backend.fetch('t1'))!)).toContain('SUCCESS');
    } finally {
      await backend.close();
    }
  });

  it('refuses a server certificate it cannot verify', async () => {
    const s = await server(`tls { cert_file: "${tls.cert}", key_file: "${tls.key}" }`);
    const broker = natsAdapter.createBroker!(new URL(`tls://127.0.0.1:${s.port}`), {});
    const error = await broker.connect().catch((e: unknown) => e);
    await broker.close();
    expect(error).toBeInstanceOf(Error);
    expect(isTqError(error)).toBe(true);
  });

  it('mutual TLS: client certificate from adapter options (PEM paths) and from the URL', async () => {
    const s = await server(`tls { cert_file: "${tls.cert}", key_file: "${tls.key}", ca_file: "${tls.ca}", verify: true }`);
    await roundTrip(`tls://127.0.0.1:${s.port}`, { tls: { caFile: tls.ca, certFile: tls.clientCert, keyFile: tls.clientKey } });
    await roundTrip(
      `tls://127.0.0.1:${s.port}?tlsCa=${encodeURIComponent(tls.ca)}&tlsCert=${encodeURIComponent(tls.clientCert)}&tlsKey=${encodeURIComponent(tls.clientKey)}`,
    );
    // nats.js notices a handshake the server rejected only at its connect timeout: shorten it.
    const noCert = natsAdapter.createBroker!(new URL(`tls://127.0.0.1:${s.port}?tlsCa=${encodeURIComponent(tls.ca)}`), { connection: { timeout: 2_000 } });
    const error = await noCert.connect().catch((e: unknown) => e);
    await noCert.close();
    expect(isTqError(error)).toBe(true);
  });
});
