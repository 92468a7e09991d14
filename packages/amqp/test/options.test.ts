/** URL and adapter options → AmqpOptions: defaults, validation that lists every problem, no secrets in errors. */
import { ConfigError, isTqError } from '@tq/core/adapter';
import { describe, expect, it } from 'vitest';
import amqp, { parseAmqpOptions, taskQueueArguments } from '../src/index.js';
import { urlVia } from './support/brokers.js';

describe('AMQP options', () => {
  it('defaults follow Celery and RabbitMQ: guest, vhost "/", port 5672, classic queues, no priority, no DLX', () => {
    const options = parseAmqpOptions(new URL('amqp://rabbit.example'));
    expect(options).toMatchObject({
      protocol: 'amqp',
      hostname: 'rabbit.example',
      port: 5672,
      username: 'guest',
      password: 'guest',
      vhost: '/',
      queueType: 'classic',
      maxPriority: 0,
      deadLetterExchange: null,
      resultExpiresMs: 86_400_000,
      tls: undefined,
      heartbeat: 10,
      confirmTimeoutMs: 10_000,
    });
    expect(taskQueueArguments('celery', options)).toEqual({});
  });

  it('reads vhost (percent-decoded), credentials, port and parameters from the URL', () => {
    const options = parseAmqpOptions(new URL('amqps://us%40er:p%3Ass@h:5999/my%2Fvhost?heartbeat=15&confirmTimeout=2500&maxPriority=10&deadLetter=1&resultExpires=60000'));
    expect(options).toMatchObject({ protocol: 'amqps', port: 5999, username: 'us@er', password: 'p:ss', vhost: 'my/vhost', heartbeat: 15, confirmTimeoutMs: 2_500, maxPriority: 10 });
    expect(parseAmqpOptions(new URL('amqps://h')).port).toBe(5671);
    expect(parseAmqpOptions(new URL('amqp://h/%2F')).vhost).toBe('/');
    expect(taskQueueArguments('q', options)).toEqual({ 'x-max-priority': 10, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'q.dead' });
    expect(taskQueueArguments('q', parseAmqpOptions(new URL('amqp://h?queueType=quorum&deadLetterExchange=dlx')))).toEqual({
      'x-queue-type': 'quorum',
      'x-dead-letter-exchange': 'dlx',
    });
  });

  it('accepts TLS material in adapter options for amqps://', () => {
    const tls = { ca: '-----BEGIN CERTIFICATE-----\n…', cert: 'CERT', key: 'KEY', passphrase: 'pw', servername: 'rabbit.internal' };
    expect(parseAmqpOptions(new URL('amqps://h'), { tls }).tls).toEqual(tls);
    expect(parseAmqpOptions(new URL('amqps://h'), { tls: { ca: [Buffer.from('a'), 'b'] } }).tls?.ca).toHaveLength(2);
  });

  it('reports every problem at once, with the URL password redacted', () => {
    const url = new URL('amqp://user:S3cret-pw@h/?heartbeat=-1&queueType=stream&bogus=1&maxPriority=300');
    let error: unknown;
    try {
      parseAmqpOptions(url, { tls: { cert: 'only-cert', ca: 42, extra: true } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues.map((i) => i.path);
    expect(issues).toEqual(expect.arrayContaining(['heartbeat', 'queueType', 'url?bogus', 'maxPriority', 'tls.extra', 'tls.ca', 'tls']));
    expect((error as ConfigError).issues.length).toBeGreaterThanOrEqual(8);
    expect((error as Error).message).not.toContain('S3cret-pw');
    expect((error as Error).message).toContain('user:***@h');
  });

  it('refuses combinations RabbitMQ would refuse: quorum queues with x-max-priority', () => {
    expect(() => parseAmqpOptions(new URL('amqp://h?queueType=quorum&maxPriority=5'))).toThrow(/quorum queues do not support x-max-priority/);
  });

  it('the descriptor serves amqp, amqps and rpc, and refuses rpc:// as a broker and amqp:// as a backend', () => {
    expect(amqp.schemes).toEqual(['amqp', 'amqps', 'rpc']);
    expect(() => amqp.createBroker!(new URL('rpc://'), {})).toThrow(ConfigError);
    expect(() => amqp.createResultBackend!(new URL('amqp://h'), {})).toThrow(ConfigError);
    expect(amqp.createResultBackend!(new URL('rpc://'), { brokerUrl: 'amqp://u:p@rabbit:5673/v' })).toBeDefined();
    expect(() => amqp.createResultBackend!(new URL('rpc://'), { brokerUrl: 'redis://x' })).toThrow(ConfigError);
  });
});

/** What connect() rejects with (the broker closed after). */
async function connectError(url: URL): Promise<unknown> {
  const broker = amqp.createBroker!(url, {});
  const error = await broker.connect().catch((e: unknown) => e);
  await broker.close();
  return error;
}

describe('errors from the server', () => {
  it('a refused login is an AuthError (not retried) whose message names the endpoint but not the password', async () => {
    const url = urlVia(undefined);
    url.username = 'guest';
    url.password = 'S3cret-pw';
    const error = await connectError(url);
    expect(isTqError(error, 'TQ_AUTH_FAILED')).toBe(true);
    expect((error as Error).name).toBe('AuthError');
    expect((error as Error).message).toContain('check the user name, password');
    expect((error as Error).message).toContain('guest@127.0.0.1');
    expect((error as Error).message).toMatch(/ACCESS.REFUSED/);
    expect((error as Error).message).not.toContain('S3cret-pw');
    expect(JSON.stringify(error)).not.toContain('S3cret-pw');
  });

  it('a vhost that does not exist is an AuthError that says so', async () => {
    const url = urlVia(undefined);
    url.pathname = '/tq-no-such-vhost';
    const error = await connectError(url);
    expect(isTqError(error, 'TQ_AUTH_FAILED')).toBe(true);
    expect((error as Error).message).toContain('it does not exist, or this user may not use it');
  });

  it('an unreachable host is a BrokerConnectionError', async () => {
    const error = await connectError(new URL('amqp://guest:S3cret-pw@127.0.0.1:1/?connectTimeout=2000'));
    expect(isTqError(error, 'TQ_BROKER_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).not.toContain('S3cret-pw');
  });
});
