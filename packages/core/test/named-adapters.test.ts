import { describe, expect, it } from 'vitest';
import { ConfigError, isTqError } from '../src/errors.js';
import { resolveConfig } from '../src/config.js';
import { resolveAdapter } from '../src/adapters/resolve.js';
import { takeAdapterFlags } from '../src/cli/adapter-flag.js';
import type { TqAdapter } from '../src/adapters/descriptor.js';

const fake: TqAdapter = { name: 'fake', schemes: ['fake'], createBroker: () => undefined as never };

describe('adapters by package name', () => {
  it('tq.config.json "adapters" (strings) and TQ_ADAPTERS are kept as names, not crashed on', () => {
    const config = resolveConfig({}, { TQ_ADAPTERS: 'tq-b, tq-c' }, { adapters: ['tq-a'] });
    expect(config.adapters).toEqual(['tq-a', 'tq-b', 'tq-c']);
  });

  it('bad entries are reported in one ConfigError', () => {
    const error = (() => {
      try {
        resolveConfig({}, {}, { adapters: ['', { name: 'x' } as unknown as TqAdapter] });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.path)).toEqual(['adapters[0]', 'adapters[1]']);
  });

  it('a named package is imported and its default export serves its schemes', async () => {
    const loaded: string[] = [];
    const adapter = await resolveAdapter('fake://host', {
      adapters: ['tq-fake'],
      load: async (name) => {
        loaded.push(name);
        return { default: fake };
      },
    });
    expect(adapter).toBe(fake);
    expect(loaded).toEqual(['tq-fake']);
  });

  it('a package without a descriptor, or not installed, is a typed error naming it', async () => {
    await expect(resolveAdapter('fake://h', { adapters: ['tq-empty'], load: async () => ({ default: 42 }) })).rejects.toThrow(/tq-empty.*does not default-export/);
    const missing = await resolveAdapter('fake://h', {
      adapters: ['tq-missing'],
      load: async () => {
        throw Object.assign(new Error("Cannot find package 'tq-missing'"), { code: 'ERR_MODULE_NOT_FOUND' });
      },
    }).catch((e: unknown) => e);
    expect(isTqError(missing, 'TQ_ADAPTER_NOT_INSTALLED')).toBe(true);
    expect((missing as Error).message).toContain('npm install tq-missing');
  });

  it('an unknown scheme says how to load a third-party adapter', async () => {
    const error = await resolveAdapter('nope://h').catch((e: unknown) => e);
    expect(isTqError(error, 'TQ_UNKNOWN_SCHEME')).toBe(true);
    expect((error as Error).message).toMatch(/"adapters".*tq\.config\.json.*TQ_ADAPTERS.*--adapter/);
  });

  it('--adapter PKG / --adapter=PKG are taken out of argv (any command, repeatable) into TQ_ADAPTERS', () => {
    const env: NodeJS.ProcessEnv = { TQ_ADAPTERS: 'tq-x' };
    expect(takeAdapterFlags(['call', 'tq.add', '--adapter', 'tq-a', '--args', '[1]', '--adapter=tq-b'], env)).toEqual(['call', 'tq.add', '--args', '[1]']);
    expect(env['TQ_ADAPTERS']).toBe('tq-x,tq-a,tq-b');
    expect(takeAdapterFlags(['call', '--', '--adapter', 'x'], {})).toEqual(['call', '--', '--adapter', 'x']);
  });
});
