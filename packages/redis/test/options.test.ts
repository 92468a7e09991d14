/** URL → options: kombu's parameter names, TLS and Sentinel forms, every problem reported at once. */
import { ConfigError } from '@tq/core/adapter';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRedisOptions } from '../src/index.js';

const parse = (url: string, extra = {}) => parseRedisOptions(new URL(url), extra);

describe('parseRedisOptions', () => {
  it('redis:// defaults: localhost:6379, db 0, no TLS, 30 s visibility (leases), kombu priority steps 0,3,6,9, 1 day results', () => {
    const o = parse('redis://');
    expect(o).toMatchObject({
      host: '127.0.0.1',
      port: 6379,
      db: 0,
      username: undefined,
      password: undefined,
      tls: undefined,
      sentinel: undefined,
      visibilityTimeoutMs: 30_000,
      prioritySteps: [0, 3, 6, 9],
      keyPrefix: '',
      resultTtlMs: 86_400_000,
      socketTimeoutMs: 10_000,
      keepAliveMs: 10_000,
    });
  });

  it('host, port, db, username and a percent-encoded password', () => {
    const o = parse('redis://app:p%40ss%3Aword@cache.example:6380/3');
    expect(o).toMatchObject({ host: 'cache.example', port: 6380, db: 3, username: 'app', password: 'p@ss:word' });
    expect(o.displayUrl).not.toContain('p%40ss');
    expect(o.displayUrl).toContain('***');
  });

  it('password only (redis://:secret@host), as Celery URLs usually write it', () => {
    const o = parse('redis://:secret@127.0.0.1/2');
    expect(o).toMatchObject({ username: undefined, password: 'secret', db: 2 });
  });

  it("kombu's transport options from the query", () => {
    const o = parse('redis://h/0?visibility_timeout=30&priority_steps=0,5,9&global_keyprefix=app1:&result_expires=60&socket_timeout=2.5');
    expect(o).toMatchObject({ visibilityTimeoutMs: 30_000, prioritySteps: [0, 5, 9], keyPrefix: 'app1:', resultTtlMs: 60_000, socketTimeoutMs: 2_500 });
  });

  it('adapter options override the URL', () => {
    const o = parse('redis://h/0?visibility_timeout=30&socket_timeout=20', { visibilityTimeoutMs: 5_000, keyPrefix: 'x:', socketTimeoutMs: 3_000, keepAliveMs: 0 });
    expect(o).toMatchObject({ visibilityTimeoutMs: 5_000, keyPrefix: 'x:', socketTimeoutMs: 3_000, keepAliveMs: 0 });
  });

  it('rediss:// turns TLS on and verifies the server by default', () => {
    const o = parse('rediss://:pw@redis.example:6380/0');
    expect(o.tls).toBeDefined();
    expect(o.tls?.rejectUnauthorized).toBeUndefined(); // Node's default: verify
  });

  it('rediss:// with ssl_cert_reqs=none skips verification; CERT_REQUIRED verifies; CA, cert and key files are read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tq-opts-'));
    for (const name of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(dir, name), `-- ${name} --`);
    expect(parse('rediss://h?ssl_cert_reqs=none').tls?.rejectUnauthorized).toBe(false);
    expect(parse('rediss://h?ssl_cert_reqs=CERT_REQUIRED').tls?.rejectUnauthorized).toBe(true);
    const tls = parse(`rediss://h?ssl_ca_certs=${dir}/ca.pem&ssl_certfile=${dir}/cert.pem&ssl_keyfile=${dir}/key.pem`).tls!;
    expect(String(tls.ca)).toBe('-- ca.pem --');
    expect(String(tls.cert)).toBe('-- cert.pem --');
    expect(String(tls.key)).toBe('-- key.pem --');
  });

  it('TLS material may be given as adapter options (in-memory buffers)', () => {
    const o = parse('redis://h', { tls: { ca: 'PEM', servername: 'redis.internal' } });
    expect(o.tls).toEqual({ ca: 'PEM', servername: 'redis.internal' });
  });

  it('redis+sentinel://: the first sentinel from the authority, more from ?sentinels=, the master name, default port 26379', () => {
    const o = parse('redis+sentinel://:masterpw@s1:26380/1?master_name=mymaster&sentinels=s2,s3:26381', { sentinelPassword: 'sentinelpw' });
    expect(o.sentinel).toEqual({
      sentinels: [
        { host: 's1', port: 26380 },
        { host: 's2', port: 26379 },
        { host: 's3', port: 26381 },
      ],
      masterName: 'mymaster',
      password: 'sentinelpw',
      tls: false,
    });
    expect(o).toMatchObject({ password: 'masterpw', db: 1 });
  });

  it('reports every problem at once in one ConfigError, with the URL redacted', () => {
    let error: unknown;
    try {
      parse('redis+sentinel://:hunter2@h:26379/x?visibility_timeout=-1&priority_steps=3,1&ssl_cert_reqs=maybe&ssl=true&ssl_ca_certs=/nonexistent/ca.pem');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const config = error as ConfigError;
    expect(config.code).toBe('TQ_CONFIG_INVALID');
    expect(config.issues.map((i) => i.path).sort()).toEqual(
      ['prioritySteps', 'url.path', 'url?master_name', 'url?ssl_ca_certs', 'url?ssl_cert_reqs', 'url?visibility_timeout'].sort(),
    );
    expect(config.message).not.toContain('hunter2');
  });

  it('rejects a misspelt URL option with the nearest known name (#15)', () => {
    let error: unknown;
    try {
      parse('redis://h:6379/0?visiblity_timeout=60&socket_timeout=5');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const config = error as ConfigError;
    expect(config.issues.map((i) => i.path)).toEqual(['url?visiblity_timeout']);
    expect(config.message).toMatch(/unknown URL option "visiblity_timeout" \(did you mean "visibility_timeout"\?\)/);
  });
});

describe('delays and mixed fleets (#14)', () => {
  it('restores foreign deliveries after kombu\'s hour by default, never before tq\'s own timeout, and delays in Redis unless told not to', () => {
    const defaults = parseRedisOptions(new URL('redis://127.0.0.1:6379/0'));
    expect([defaults.visibilityTimeoutMs, defaults.foreignVisibilityTimeoutMs, defaults.delayedDelivery]).toEqual([30_000, 3_600_000, true]);
    const set = parseRedisOptions(new URL('redis://127.0.0.1:6379/0?visibility_timeout=7200&foreign_visibility_timeout=60&delayed_delivery=false'));
    expect([set.foreignVisibilityTimeoutMs, set.delayedDelivery]).toEqual([7_200_000, false]);
    expect(() => parseRedisOptions(new URL('redis://127.0.0.1:6379/0?delayed_delivery=maybe'))).toThrow(/delayed_delivery/);
  });
});
