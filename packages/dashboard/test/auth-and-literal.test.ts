import { isTqError } from '@tq/core';
import { describe, expect, it } from 'vitest';
import { isLoopback, resolveAuth } from '../src/auth.js';
import { parsePythonLiteral } from '../src/python-literal.js';

describe('dashboard auth', () => {
  it('allows no auth on loopback only, and says what to do otherwise', () => {
    expect(resolveAuth({}, '127.0.0.1', {})).toEqual({});
    expect(resolveAuth({}, '::1', {})).toEqual({});
    let error: unknown;
    try {
      resolveAuth({}, '0.0.0.0', {});
    } catch (e) {
      error = e;
    }
    expect(isTqError(error, 'TQ_CONFIG_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(/--token TOKEN.*--user NAME --password SECRET.*127\.0\.0\.1/);
  });

  it('takes a token or a user and password from options or the environment', () => {
    expect(resolveAuth({ token: 't' }, '0.0.0.0', {})).toEqual({ token: 't' });
    expect(resolveAuth({}, '0.0.0.0', { TQ_DASHBOARD_USER: 'u', TQ_DASHBOARD_PASSWORD: 'p' })).toEqual({ basic: { username: 'u', password: 'p' } });
    expect(() => resolveAuth({ user: 'u' }, '127.0.0.1', {})).toThrow(/both --user and --password/);
  });

  it('knows loopback addresses', () => {
    expect(['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '10.0.0.1', '::', 'example.com'].some(isLoopback)).toBe(false);
  });
});

describe('parsePythonLiteral', () => {
  it('reads back the reprs Celery events carry', () => {
    expect(parsePythonLiteral("(2, 'a\\'b', None, True, [1.5, {'k': False}])")).toEqual([2, "a'b", null, true, [1.5, { k: false }]]);
    expect(parsePythonLiteral('(7,)')).toEqual([7]);
    expect(parsePythonLiteral('{}')).toEqual({});
  });

  it('refuses truncated values', () => {
    expect(() => parsePythonLiteral("([[...]],)")).toThrow(SyntaxError);
    expect(() => parsePythonLiteral("('abc...")).toThrow(SyntaxError);
  });
});
