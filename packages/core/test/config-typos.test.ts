import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, resolveConfig } from '../src/config.js';
import { ConfigError, type TqConfig } from '../src/index.js';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('misspelt settings are rejected with the nearest known name (#15)', () => {
  it('in tq.config.json', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tq-typo-'));
    writeFileSync(join(dir, 'tq.config.json'), JSON.stringify({ broker: 'redis://h:6379/0', resultBackned: 'redis://h:6379/1', defaultQueue: 'q' }));
    const error = configError(() => loadConfigFile({}, dir));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]!.path).toBe(`${join(dir, 'tq.config.json')}: resultBackned`);
    expect(error.message).toMatch(/resultBackned: unknown setting \(did you mean "resultBackend"\?\)/);
  });

  it('in code config, every one at once, and a far-off name gets no suggestion', () => {
    const error = configError(() => resolveConfig({ defualtQueue: 'q', colour: 'blue' } as TqConfig, {}, {}));
    expect(error.issues.map((i) => i.message)).toEqual(['unknown setting (did you mean "defaultQueue"?)', 'unknown setting']);
  });

  it('every documented setting is accepted', () => {
    expect(() => resolveConfig({ defaultQueue: 'q', routes: { 'a.*': 'qa' }, resultTtlMs: 10, maxPayloadBytes: 10, logLevel: 'silent', sendSentEvent: true, deadLetterSuffix: null }, {}, {})).not.toThrow();
  });
});
