import { describe, expect, it } from 'vitest';
import { ConfigError, isTqError } from '@tq/core/adapter';
import { parseBrokerOptions, parseResultBackendOptions } from '../src/index.js';

describe('URL → options', () => {
  it('applies defaults', () => {
    const o = parseBrokerOptions(new URL('nats://127.0.0.1'));
    expect(o).toMatchObject({ servers: ['127.0.0.1:4222'], stream: 'TQ', subjectPrefix: 'tq.TQ', replicas: 1, ackWaitMs: 30_000, maxDeliver: 5, tls: undefined, pingIntervalMs: 10_000, maxPingOut: 2 });
    expect(parseResultBackendOptions(new URL('nats://127.0.0.1'))).toMatchObject({ bucket: 'tq-results', bucketTtlMs: 86_400_000, resultTtlMs: 86_400_000, pingIntervalMs: 10_000, maxPingOut: 2 });
  });

  it('liveness: pingIntervalMs and maxPingOut from the URL, for broker and result backend', () => {
    const url = new URL('nats://127.0.0.1?pingIntervalMs=2000&maxPingOut=3');
    expect(parseBrokerOptions(url)).toMatchObject({ pingIntervalMs: 2_000, maxPingOut: 3 });
    expect(parseResultBackendOptions(url)).toMatchObject({ pingIntervalMs: 2_000, maxPingOut: 3 });
    expect(() => parseBrokerOptions(new URL('nats://127.0.0.1?pingIntervalMs=0'))).toThrow(ConfigError);
  });

  it('reads servers, auth and TLS, and requires TLS for tls://', () => {
    const o = parseBrokerOptions(new URL('tls://u:p%40ss@n1:4333?servers=n2:4333,n3&tlsCa=/ca.pem'));
    expect(o.servers).toEqual(['n1:4333', 'n2:4333', 'n3:4222']);
    expect(o.auth).toEqual({ user: 'u', pass: 'p@ss' });
    expect(o.tls).toEqual({ caFile: '/ca.pem' });
    expect(o.redacted).toBe('tls://u:***@n1:4333?servers=n2:4333,n3&tlsCa=/ca.pem');
  });

  it('accepts one URL for broker and result backend (each ignores the other side’s parameters)', () => {
    const url = new URL('nats://127.0.0.1?stream=JOBS&bucket=results&replicas=3');
    expect(parseBrokerOptions(url)).toMatchObject({ stream: 'JOBS', replicas: 3 });
    expect(parseResultBackendOptions(url)).toMatchObject({ bucket: 'results', replicas: 3 });
  });

  it('reports every problem at once in one ConfigError', () => {
    let error: unknown;
    try {
      parseBrokerOptions(new URL('nats://u:p@h?token=t&stream=bad.name&ackWaitMs=soon&replicas=9&colour=blue'));
    } catch (e) {
      error = e;
    }
    expect(isTqError(error, 'TQ_CONFIG_INVALID')).toBe(true);
    expect((error as ConfigError).issues.map((i) => i.path).sort()).toEqual([
      'broker.ackWaitMs',
      'broker.auth',
      'broker.colour',
      'broker.replicas',
      'broker.stream',
    ]);
  });
});
