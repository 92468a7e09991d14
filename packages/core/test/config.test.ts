import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveAdapter } from '../src/adapters/resolve.js';
import { redactText, redactUrl } from '../src/adapters/url.js';
import { loadConfigFile, resolveConfig, routeTask } from '../src/config.js';
import { AdapterNotInstalledError, ConfigError, UnknownSchemeError } from '../src/errors.js';
import { createApp } from '../src/index.js';

describe('config', () => {
  it('defaults to memory:// for broker and results', () => {
    const config = resolveConfig({}, {}, {});
    expect(config.broker).toBe('memory://');
    expect(config.resultBackend).toBe('memory://');
    expect(config.defaultQueue).toBe('celery');
    expect(config.accept).toEqual(['json']);
    expect(config.resultTtlMs).toBe(86_400_000);
  });

  it('file < code < environment', () => {
    const file = { broker: 'redis://file:6379/0', defaultQueue: 'from-file' };
    expect(resolveConfig({}, {}, file).broker).toBe('redis://file:6379/0');
    expect(resolveConfig({ broker: 'redis://code:6379/0' }, {}, file).broker).toBe('redis://code:6379/0');
    const env = { TQ_BROKER_URL: 'amqp://env:5672', TQ_RESULT_BACKEND: 'none' };
    const config = resolveConfig({ broker: 'redis://code:6379/0', resultBackend: 'redis://code:6379/1' }, env, file);
    expect(config.broker).toBe('amqp://env:5672');
    expect(config.resultBackend).toBeNull();
    expect(config.defaultQueue).toBe('from-file');
  });

  it('reads tq.config.json from the working directory or TQ_CONFIG', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tq-config-'));
    writeFileSync(join(dir, 'tq.config.json'), JSON.stringify({ broker: 'nats://127.0.0.1:4222' }));
    expect(loadConfigFile({}, dir).broker).toBe('nats://127.0.0.1:4222');
    writeFileSync(join(dir, 'other.json'), '{ not json');
    expect(() => loadConfigFile({ TQ_CONFIG: join(dir, 'other.json') }, dir)).toThrow(ConfigError);
    expect(loadConfigFile({}, tmpdir())).toEqual({});
  });

  it('reports every problem at once', () => {
    let error: ConfigError | undefined;
    try {
      resolveConfig({ broker: 'not a url', resultTtlMs: -1, defaultQueue: '', logLevel: 'loud' as never }, {}, {});
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.issues.map((i) => i.path).sort()).toEqual(['broker', 'defaultQueue', 'logLevel', 'resultTtlMs']);
  });

  it('routes by exact name, then glob, then the default queue', () => {
    const routes = { 'reports.build': 'reports', 'media.*': 'media' };
    expect(routeTask('reports.build', routes, 'celery')).toBe('reports');
    expect(routeTask('media.resize', routes, 'celery')).toBe('media');
    expect(routeTask('tq.add', routes, 'celery')).toBe('celery');
  });
});

describe('adapter resolution', () => {
  it('suggests the nearest scheme on a typo', async () => {
    const error = await resolveAdapter(new URL('rediss2://x'), {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownSchemeError);
    expect((error as Error).message).toContain('did you mean "rediss://"');
  });

  it("names tq's own adapter for postgres:// and mysql://, which are loaded by name", async () => {
    for (const [url, name] of [['postgres://u@h/db', '@tq/postgres'], ['mariadb://h/db', '@tq/mysql']] as const) {
      const error = await resolveAdapter(new URL(url), {}).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnknownSchemeError);
      expect((error as Error).message).toContain(`--adapter ${name}`);
    }
  });

  it('names the package to install when an adapter is missing', async () => {
    const missing = Object.assign(new Error("Cannot find package '@tq/kafka' imported from x"), { code: 'ERR_MODULE_NOT_FOUND' });
    const error = await resolveAdapter(new URL('kafka://x:9092'), { load: () => Promise.reject(missing) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AdapterNotInstalledError);
    expect((error as Error).message).toContain('npm install @tq/kafka');
  });

  it('prefers adapters passed by the user, and accepts instances', async () => {
    const custom = { name: 'custom', schemes: ['redis'] };
    expect(await resolveAdapter(new URL('redis://x'), { adapters: [custom] })).toBe(custom);
  });

  it('an app with an unknown scheme fails on first use with the typed error', async () => {
    const app = createApp({ broker: 'rabbit://x', logLevel: 'silent' });
    await expect(app.broker()).rejects.toBeInstanceOf(UnknownSchemeError);
  });
});

describe('redaction', () => {
  it.each([
    ['redis://:s3cret@host:6379/0', 'redis://:***@host:6379/0'],
    ['amqp://guest:guest@127.0.0.1:5672/vhost', 'amqp://guest:***@127.0.0.1:5672/vhost'],
    ['nats://host:4222?token=abc&stream=TQ', 'nats://host:4222?token=***&stream=TQ'],
    ['kafka://user:pw@a:9092,b:9092', 'kafka://user:***@a:9092,b:9092'],
    ['redis://host:6379/0', 'redis://host:6379/0'],
    ['nats://MyTok9@127.0.0.1:4222?stream=TQ', 'nats://***@127.0.0.1:4222?stream=TQ'],
    ['tls://MyTok9@nats.example:4222', 'tls://***@nats.example:4222'],
    ['redis://someuser@host:6379/0', 'redis://someuser@host:6379/0'],
  ])('%s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
    expect(redactText(`connect ECONNREFUSED ${url} failed`)).toBe(`connect ECONNREFUSED ${expected} failed`);
  });
});

describe('error classification', () => {
  it('retries connection-class errors only, with backoff, then gives up with the error', async () => {
    const { withRetry, isConnectionError } = await import('../src/adapters/retry-policy.js');
    const { BrokerConnectionError } = await import('../src/errors.js');
    expect(isConnectionError(new BrokerConnectionError('down'))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isConnectionError(new TypeError('bug'))).toBe(false);
    let calls = 0;
    const policy = { maxRetries: 2, initialDelayMs: 1, maxDelayMs: 2 };
    await expect(withRetry(async () => (calls++, Promise.reject(new BrokerConnectionError('down'))), policy)).rejects.toBeInstanceOf(BrokerConnectionError);
    expect(calls).toBe(3);
    calls = 0;
    await expect(withRetry(async () => (calls++, Promise.reject(new TypeError('bug'))), policy)).rejects.toBeInstanceOf(TypeError);
    expect(calls).toBe(1);
    calls = 0;
    expect(await withRetry(async () => (++calls < 2 ? Promise.reject(new BrokerConnectionError('blip')) : 'ok'), policy)).toBe('ok');
  });

  it('a connected broker publishes in one adapter call, and retries from its first connection-class failure with the same budget', async () => {
    const { RuntimeBroker } = await import('../src/broker/runtime-broker.js');
    const { MemoryBroker } = await import('../src/memory/memory-broker.js');
    const { MemoryHub } = await import('../src/memory/memory-hub.js');
    const { BrokerConnectionError } = await import('../src/errors.js');
    const inner = new MemoryBroker(new MemoryHub());
    let failures = 0;
    let calls = 0;
    const publish = inner.publish.bind(inner);
    inner.publish = async (queue, message) => {
      calls++;
      if (failures-- > 0) throw new BrokerConnectionError('blip');
      return publish(queue, message);
    };
    const broker = new RuntimeBroker(inner, { retry: { maxRetries: 2, initialDelayMs: 1, maxDelayMs: 2 } });
    await broker.connect();
    const message = { body: new Uint8Array([1]), headers: {}, properties: { contentType: 'application/json', contentEncoding: 'utf-8' } };
    failures = 2;
    await broker.publish('q', message);
    expect(calls).toBe(3);
    failures = 3;
    calls = 0;
    await expect(broker.publish('q', message)).rejects.toBeInstanceOf(BrokerConnectionError);
    expect(calls).toBe(3); // the first attempt and maxRetries more, as before it was connected
    await broker.close();
  });
});

describe('adapter URL parsing', () => {
  it('lets an adapter parse URLs the WHATWG parser rejects (several hosts)', async () => {
    const { MemoryBroker } = await import('../src/memory/memory-broker.js');
    const { MemoryHub } = await import('../src/memory/memory-hub.js');
    const seen: URL[] = [];
    const multi = {
      name: 'multi',
      schemes: ['multi'],
      parseUrl: (raw: string) => {
        const [first, ...rest] = raw.slice('multi://'.length).split(',');
        return new URL(`multi://${first}?hosts=${rest.join(',')}`);
      },
      createBroker: (url: URL) => {
        seen.push(url);
        return new MemoryBroker(new MemoryHub());
      },
    };
    expect(() => new URL('multi://a:1,b:2,c:3')).toThrow();
    const app = createApp({ broker: 'multi://a:1,b:2,c:3', resultBackend: null, adapters: [multi], logLevel: 'silent' });
    await app.broker();
    expect(seen[0]!.searchParams.get('hosts')).toBe('b:2,c:3');
    await app.close();
  });
});
