import { afterEach, describe, expect, it } from 'vitest';
import { jsonSerializer, losslessJsonSerializer, MessageDecodeError, parseJsonLossless, type App } from '../src/index.js';
import { memoryApp } from './helpers.js';

const bytes = (text: string) => new TextEncoder().encode(text);

let app: App;
afterEach(async () => {
  await app?.close();
});

describe('integers beyond 2^53 (#15)', () => {
  it('the default JSON rounds them (documented default)', () => {
    expect(jsonSerializer.decode(bytes('[18446744073709551617]'))).toEqual([18446744073709552000]);
  });

  it('the lossless JSON keeps them exact as BigInt, and leaves every other number a number', () => {
    const text = '{"big": 18446744073709551617, "neg": -9007199254740993, "safe": 9007199254740991, "float": 1.5e300, "s": "123456789012345678901", "nested": [[90071992547409930]]}';
    expect(parseJsonLossless(text)).toEqual({
      big: 18446744073709551617n,
      neg: -9007199254740993n,
      safe: 9007199254740991,
      float: 1.5e300,
      s: '123456789012345678901',
      nested: [[90071992547409930n]],
    });
  });

  it('does not touch digits inside strings, escaped quotes included', () => {
    expect(parseJsonLossless('["a \\" 18446744073709551617", 18446744073709551617]')).toEqual(['a " 18446744073709551617', 18446744073709551617n]);
  });

  it('still refuses prototype-polluting keys and invalid JSON', () => {
    expect(() => losslessJsonSerializer.decode(bytes('{"__proto__": {"x": 18446744073709551617}}'))).toThrow(MessageDecodeError);
    expect(() => losslessJsonSerializer.decode(bytes('[18446744073709551617,'))).toThrow(MessageDecodeError);
  });

  it('BigInt is written as an exact JSON integer, Python-spaced', () => {
    expect(new TextDecoder().decode(jsonSerializer.encode({ n: 2n ** 64n + 1n, l: [1, 2n] }))).toBe('{"n": 18446744073709551617, "l": [1, 2]}');
  });

  it('an app with the lossless serializer hands a task the exact integer and stores it exactly', async () => {
    app = memoryApp({ serializers: [losslessJsonSerializer] });
    app.task('tq.echo', (n: bigint) => ({ type: typeof n, next: n + 1n }));
    const worker = app.worker();
    await worker.start();
    const result = await app.sendTask('tq.echo', [2n ** 64n + 1n]);
    expect(await result.get({ timeout: 5000 })).toEqual({ type: 'bigint', next: 18446744073709551618 });
    const backend = (await app.backend())!;
    expect(new TextDecoder().decode((await backend.fetch(result.id))!)).toContain('"next": 18446744073709551618');
    await worker.stop();
  });
});
