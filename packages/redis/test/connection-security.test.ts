/**
 * TLS, passwords and Sentinel against real redis-server processes started for this file
 * (never the shared server's configuration), and secrets kept out of every error message.
 */
import { AuthError, BrokerConnectionError, ConfigError, TqError } from '@tq/core/adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBroker, RedisResultBackend, parseRedisOptions } from '../src/index.js';
import { freePort, makeCertificate, startRedis, startSentinel, type SpawnedRedis } from './support/redis-server.js';
import { first, uniqueName } from './support/test-redis.js';

const password = 'tq-s3cret-pw';
let secure: SpawnedRedis; // TLS only, password required
let tlsPort: number;
let certFile: string;
let plain: SpawnedRedis; // plain TCP, password required: the master behind Sentinel
let sentinel: SpawnedRedis;

beforeAll(async () => {
  tlsPort = await freePort();
  secure = await startRedis((dir) => {
    const { cert, key } = makeCertificate(dir);
    certFile = cert;
    return ['--port', '0', '--tls-port', String(tlsPort), '--tls-cert-file', cert, '--tls-key-file', key,
      '--tls-ca-cert-file', cert, '--tls-auth-clients', 'no', '--requirepass', password];
  });
  plain = await startRedis((_dir, port) => ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', password]);
  sentinel = await startSentinel('tqmaster', plain.port, password);
}, 60_000);

afterAll(async () => {
  await sentinel?.stop();
  await plain?.stop();
  await secure?.stop();
});

async function roundTrip(url: string): Promise<string> {
  const broker = new RedisBroker(parseRedisOptions(new URL(url)));
  try {
    await broker.connect();
    const q = uniqueName('sec');
    await broker.publish(q, {
      body: new TextEncoder().encode('"hi"'),
      headers: { id: 'x1', task: 't' },
      properties: { contentType: 'application/json', contentEncoding: 'utf-8' },
    });
    const controller = new AbortController();
    const delivery = await first(broker.consume(q, { prefetch: 1, signal: controller.signal }));
    await delivery.ack();
    controller.abort();
    await broker.purge(q);
    return new TextDecoder().decode(delivery.message.body);
  } finally {
    await broker.close();
  }
}

async function connectError(url: string, options = {}, backend = false): Promise<unknown> {
  const target = backend
    ? new RedisResultBackend(parseRedisOptions(new URL(url), { connectTimeoutMs: 2000, ...options }))
    : new RedisBroker(parseRedisOptions(new URL(url), { connectTimeoutMs: 2000, ...options }));
  try {
    await target.connect();
    return null;
  } catch (error) {
    return error;
  } finally {
    await target.close();
  }
}

describe('TLS (rediss://) with a password', () => {
  it('publishes and consumes over TLS, verifying the server against the CA file', async () => {
    expect(await roundTrip(`rediss://:${password}@localhost:${tlsPort}/0?ssl_ca_certs=${certFile}`)).toBe('"hi"');
  });

  it('ssl_cert_reqs=none connects without a CA (self-signed server)', async () => {
    expect(await roundTrip(`rediss://:${password}@127.0.0.1:${tlsPort}/0?ssl_cert_reqs=none`)).toBe('"hi"');
  });

  it('an unverifiable server certificate fails to connect with an AuthError (not retried)', async () => {
    const error = await connectError(`rediss://:${password}@localhost:${tlsPort}/0`);
    expect(error).toBeInstanceOf(AuthError);
    expect(String((error as Error).message)).not.toContain(password);
  });

  it('TLS to a port that speaks plain Redis times out with a hint to use redis://', async () => {
    const error = await connectError(`rediss://:${password}@127.0.0.1:${plain.port}/0?ssl_cert_reqs=none`, { connectTimeoutMs: 1000 });
    expect(error).toBeInstanceOf(TqError);
    expect((error as Error).message).toContain('does this port serve TLS?');
  });

  it('plain TCP to a TLS-only port fails instead of hanging', async () => {
    const error = await connectError(`redis://:${password}@127.0.0.1:${tlsPort}/0`);
    expect(error).toBeInstanceOf(TqError);
  });
});

describe('authentication', () => {
  it('a wrong password is an AuthError (TQ_AUTH_FAILED), not retried as a connection error, password redacted', async () => {
    const error = await connectError(`redis://:wrong-${password}@127.0.0.1:${plain.port}/0`);
    expect(error).toBeInstanceOf(AuthError);
    expect(error).not.toBeInstanceOf(BrokerConnectionError);
    expect((error as TqError).code).toBe('TQ_AUTH_FAILED');
    expect((error as Error).message).toMatch(/refused the credentials/);
    expect((error as Error).message).not.toContain(password);
    expect((error as Error).message).toContain('***');
  });

  it('a missing password is refused for the result backend with TQ_AUTH_FAILED too', async () => {
    const error = await connectError(`redis://127.0.0.1:${plain.port}/0`, {}, true);
    expect((error as TqError).code).toBe('TQ_AUTH_FAILED');
    expect((error as Error).message).toContain('result backend');
  });

  it('a database the server does not have is a ConfigError, not a silent fall back to database 0', async () => {
    for (const backend of [false, true]) {
      const error = await connectError(`redis://:${password}@127.0.0.1:${plain.port}/99`, {}, backend);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain('database 99 does not exist');
      expect((error as Error).message).not.toContain(password);
    }
  });

  it('an unreachable server is a BrokerConnectionError whose message never shows the password', async () => {
    const port = await freePort();
    const error = await connectError(`redis://:${password}@127.0.0.1:${port}/0`);
    expect(error).toBeInstanceOf(BrokerConnectionError);
    expect((error as BrokerConnectionError).code).toBe('TQ_BROKER_UNAVAILABLE');
    expect((error as Error).message).not.toContain(password);
    expect((error as Error).message).toContain(`redis://:***@127.0.0.1:${port}/0`);
  });
});

describe('Sentinel (redis+sentinel://)', () => {
  it('finds the master through Sentinel, authenticates, publishes and consumes', async () => {
    expect(await roundTrip(`redis+sentinel://:${password}@127.0.0.1:${sentinel.port}/0?master_name=tqmaster`)).toBe('"hi"');
  });

  it('an unknown master name fails with a typed error', async () => {
    const error = await connectError(`redis+sentinel://:${password}@127.0.0.1:${sentinel.port}/0?master_name=nosuchmaster`);
    expect(error).toBeInstanceOf(TqError);
    expect((error as Error).message).not.toContain(password);
  });
});
