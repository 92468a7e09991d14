import { ConfigError } from '@tq/core/adapter';
import { describe, expect, it } from 'vitest';
import kafka from '../src/index.js';
import { parseKafkaOptions, parseKafkaUrl } from '../src/options.js';
import { topicForQueue } from '../src/topics.js';

const parse = (url: string, options = {}) => parseKafkaOptions(new URL(url), options);

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('Kafka options', () => {
  it('has documented defaults', () => {
    const o = parse('kafka://127.0.0.1:9092');
    expect(o).toMatchObject({
      brokers: ['127.0.0.1:9092'],
      clientId: 'tq',
      partitions: 1,
      replicationFactor: -1,
      groupIdPrefix: 'tq.',
      idempotent: true,
      delayTopics: true,
      topicCreation: 'admin',
      deadLetterSuffix: '.dead',
      ssl: false,
      sasl: undefined,
    });
  });

  it('turns the delay topics off with delayTopics=false (on by default)', () => {
    expect(parse('kafka://k:9092?delayTopics=false').delayTopics).toBe(false);
    expect(parse('kafka://k:9092', { delayTopics: false }).delayTopics).toBe(false);
    expect(parse('kafka://k:9092?delayTopics=true').delayTopics).toBe(true);
  });

  it('reads several brokers from ?brokers=, from a shared port, or from brokerOptions', () => {
    expect(parse('kafka://a:9092?brokers=b:9093,c:9094').brokers).toEqual(['a:9092', 'b:9093', 'c:9094']);
    expect(parse('kafka://a,b,c:9092').brokers).toEqual(['a:9092', 'b:9092', 'c:9092']);
    expect(parse('kafka://a', {}).brokers).toEqual(['a:9092']);
    expect(parse('kafka://ignored:1', { brokers: ['x:1', 'y:2'] }).brokers).toEqual(['x:1', 'y:2']);
  });

  it('turns TLS on for kafka+ssl:// and takes node:tls options from brokerOptions', () => {
    expect(parse('kafka+ssl://k:9093').ssl).toBe(true);
    const tls = { ca: '-----BEGIN CERTIFICATE-----', servername: 'kafka.internal' };
    expect(parse('kafka+ssl://k:9093', { ssl: tls }).ssl).toEqual(tls);
    expect(parse('kafka://k:9093?ssl=true').ssl).toBe(true);
  });

  it('takes SASL credentials from the URL, plain by default', () => {
    expect(parse('kafka+ssl://alice:s%40cret@k:9093').sasl).toEqual({ mechanism: 'plain', username: 'alice', password: 's@cret' });
    expect(parse('kafka+ssl://alice:pw@k:9093?sasl=scram-sha-512').sasl).toEqual({ mechanism: 'scram-sha-512', username: 'alice', password: 'pw' });
    expect(parse('kafka+ssl://alice:pw@k:9093?sasl=SCRAM-SHA-256').sasl).toMatchObject({ mechanism: 'scram-sha-256' });
    const oauth = { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: 't' }) };
    expect(parse('kafka+ssl://k:9093', { sasl: oauth }).sasl).toBe(oauth);
  });

  it('reports every problem at once', () => {
    const error = configError(() =>
      parse('kafka://alice:hunter2@k:9093?partitions=0&sasl=gssapi&idempotent=maybe&topicCreation=magic&bogus=1&heartbeatIntervalMs=90000'),
    );
    const paths = error.issues.map((i) => i.path).sort();
    expect(paths).toEqual(['broker.bogus', 'broker.heartbeatIntervalMs', 'broker.idempotent', 'broker.partitions', 'broker.sasl', 'broker.topicCreation']);
    expect(error.code).toBe('TQ_CONFIG_INVALID');
  });

  it('never prints the password', () => {
    const error = configError(() => parse('kafka://alice:hunter2@k:9093?partitions=x&sasl=nope'));
    expect(error.message).not.toContain('hunter2');
    expect(error.message).toContain('alice:***@');
    expect(JSON.stringify(error.issues)).not.toContain('hunter2');
    const saslWithoutCredentials = configError(() => parse('kafka://k:9093?sasl=plain'));
    expect(saslWithoutCredentials.issues[0]!.path).toBe('broker.sasl');
  });

  it('declares delayed delivery only with the delay topics on', () => {
    expect(kafka.createBroker!(new URL('kafka://k:9092'), {}).capabilities.delayedDelivery).toBe(true);
    expect(kafka.createBroker!(new URL('kafka://k:9092?delayTopics=false'), {}).capabilities.delayedDelivery).toBe(false);
  });

  it('declares FIFO only for single-partition topics it creates itself', () => {
    expect(kafka.createBroker!(new URL('kafka://k:9092'), {}).capabilities).toMatchObject({
      fifo: true,
      delayedDelivery: true,
      maxPriority: 0,
      deadLetter: true,
      redeliversUnacked: true,
      redeliveryWindowMs: null,
      broadcast: false,
      purge: true,
      maxMessageBytes: 1_000_000,
    });
    expect(kafka.createBroker!(new URL('kafka://k:9092?partitions=6'), {}).capabilities.fifo).toBe(false);
    expect(kafka.createBroker!(new URL('kafka://k:9092?topicCreation=auto'), {}).capabilities.fifo).toBe(false);
  });
});

describe('queue → topic names', () => {
  it('keeps legal names and escapes the rest', () => {
    expect(topicForQueue('celery')).toBe('celery');
    expect(topicForQueue('tasks.high-prio_1')).toBe('tasks.high-prio_1');
    expect(topicForQueue('a b/c')).toBe('a_20b_2fc');
    expect(topicForQueue('é')).toBe('_c3a9');
    expect(topicForQueue('..')).toBe('_2e2e');
    expect(topicForQueue('')).toBe('_');
  });

  it('cuts over-long names and keeps them distinct with a hash', () => {
    const a = topicForQueue('q'.repeat(300) + 'a');
    const b = topicForQueue('q'.repeat(300) + 'b');
    expect(a.length).toBe(249);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9._-]+$/);
  });
});

describe('parseKafkaUrl', () => {
  it('puts the first of several bootstrap brokers in the host and the rest in ?brokers=', () => {
    const url = parseKafkaUrl('kafka+ssl://user:s3cret@a:9092,b:9093,c:9094?clientId=x&brokers=d:9095');
    expect(url.protocol).toBe('kafka+ssl:');
    expect(url.host).toBe('a:9092');
    expect(url.password).toBe('s3cret');
    expect(url.searchParams.get('brokers')).toBe('b:9093,c:9094,d:9095');
    expect(url.searchParams.get('clientId')).toBe('x');
    expect(parseKafkaUrl('kafka://solo:9092').host).toBe('solo:9092');
  });
});
