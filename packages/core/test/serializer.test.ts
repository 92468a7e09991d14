import { execFileSync } from 'node:child_process';
import { describe, expect, it, vi } from 'vitest';
import { ContentTypeForbiddenError, MessageDecodeError } from '../src/errors.js';
import { jsonSerializer, pythonJsonStringify, safeJsonParse } from '../src/serializer/json.js';
import { losslessJsonSerializer } from '../src/serializer/lossless-json.js';
import { SerializerRegistry, type Serializer } from '../src/serializer/serializer.js';

describe('pythonJsonStringify writes what Python json.dumps writes', () => {
  it.each([
    [[[2, 3], { z: 1 }, { callbacks: null }], '[[2, 3], {"z": 1}, {"callbacks": null}]'],
    [{ 'kéy': 'väl', s: 'héllo 世界' }, '{"k\\u00e9y": "v\\u00e4l", "s": "h\\u00e9llo \\u4e16\\u754c"}'],
    [['😀'], '["\\ud83d\\ude00"]'],
    [{ a: [], b: {}, c: '' }, '{"a": [], "b": {}, "c": ""}'],
    // Python escapes DEL (0x7f) as well: ensure_ascii writes only ' '..'~' as they are.
    [['a, b: c', 'q"uote', 'back\\slash', 'tab\t', '\u007f', '\u0001\n'], '["a, b: c", "q\\"uote", "back\\\\slash", "tab\\t", "\\u007f", "\\u0001\\n"]'],
    [[1.5, -0.25, 1e21, true, false, null], '[1.5, -0.25, 1e+21, true, false, null]'],
  ])('%j', (value, expected) => {
    expect(pythonJsonStringify(value)).toBe(expected);
  });

  it('writes every character below U+0300, an emoji and lone surrogates as the real json.dumps does', () => {
    const characters = Array.from({ length: 0x300 }, (_, code) => String.fromCharCode(code));
    const value = { characters, joined: characters.join(''), emoji: 'a😀b', lone: ['\ud800', '\udfff x'], plain: 'task-id 1234', n: [0, -7, 2 ** 53] };
    const python = execFileSync('/usr/bin/python3', ['-c', 'import json, sys; sys.stdout.write(json.dumps(json.load(sys.stdin)))'], { input: JSON.stringify(value), encoding: 'utf8' });
    expect(pythonJsonStringify(value)).toBe(python);
  });

  it('round-trips through decode', () => {
    const value = { args: [1, 'two', { three: [3] }], unicode: 'ü' };
    expect(jsonSerializer.decode(jsonSerializer.encode(value))).toEqual(value);
  });

  it("follows JSON.stringify's rules: toJSON, boxed primitives, omitted and nulled members, key order, lone surrogates", () => {
    const spaced = (value: unknown) => {
      const json = JSON.stringify(value)!;
      let out = '';
      let inString = false;
      for (let i = 0; i < json.length; i++) {
        const c = json[i]!;
        out += c;
        if (c === '"' && json[i - 1] !== '\\') inString = !inString;
        else if (!inString && (c === ',' || c === ':')) out += ' ';
      }
      return out.replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
    };
    const values: unknown[] = [
      { date: new Date(0), boxed: [new Number(1), new String('s'), new Boolean(false)], custom: { toJSON: (key: string) => `k=${key}` } },
      { gone: undefined, fn: () => 1, sym: Symbol('x'), kept: 1, list: [undefined, () => 1, Symbol('y')], 2: 'two', 1: 'one' },
      [NaN, Infinity, -0, 1e-7, 123456789012345680000],
      { lone: '\ud800', map: new Map([[1, 2]]), typed: new Uint8Array([1, 2]) },
    ];
    for (const value of values) expect(pythonJsonStringify(value)).toBe(spaced(value));
    expect(pythonJsonStringify({ n: 1n })).toBe('{"n": 1}'); // BigInt: an exact JSON integer (#15), where JSON.stringify throws
    const cycle: Record<string, unknown> = {};
    cycle['self'] = cycle;
    expect(() => pythonJsonStringify(cycle)).toThrow(/circular/);
    let deep: unknown = 'leaf';
    for (let i = 0; i < 3_000; i++) deep = [deep];
    expect(pythonJsonStringify(deep)).toBe(JSON.stringify(deep));
  });
});

describe('accept list', () => {
  const spy: Serializer = {
    contentType: 'application/x-spy',
    name: 'spy',
    contentEncoding: 'binary',
    encode: () => new Uint8Array(),
    decode: vi.fn(() => 'decoded'),
  };

  it('rejects a content type outside the accept list without decoding it', () => {
    const registry = new SerializerRegistry([jsonSerializer, spy], ['json']);
    expect(() => registry.decode('application/x-spy', new Uint8Array([1]))).toThrow(ContentTypeForbiddenError);
    expect(spy.decode).not.toHaveBeenCalled();
  });

  it('accepts by short name or content type', () => {
    const registry = new SerializerRegistry([jsonSerializer, spy], ['json', 'application/x-spy']);
    expect(registry.decode('application/x-spy', new Uint8Array([1]))).toBe('decoded');
    expect(registry.decode('application/json', new TextEncoder().encode('[1]'))).toEqual([1]);
  });

  it('rejects pickle even when listed, since no decoder exists', () => {
    const registry = new SerializerRegistry([jsonSerializer], ['json', 'application/x-python-serialize']);
    expect(() => registry.decode('application/x-python-serialize', new Uint8Array([0x80]))).toThrow(ContentTypeForbiddenError);
  });

  it('a missing content type is a decode error naming the field', () => {
    const registry = new SerializerRegistry([jsonSerializer], ['json']);
    expect(() => registry.decode(undefined, new Uint8Array())).toThrow(MessageDecodeError);
    try {
      registry.decode(undefined, new Uint8Array());
    } catch (error) {
      expect((error as MessageDecodeError).field).toBe('properties.contentType');
    }
  });
});

describe('encodeRecord', () => {
  it('writes the usual record shape field by field, byte for byte what the generic writer writes', async () => {
    const { encodeRecord } = await import('../src/result/record.js');
    const records = [
      { status: 'SUCCESS', result: { é: [1, 'a,b: c'], n: null }, traceback: null, children: [], date_done: '2026-11-26T06:00:00.000000', task_id: 'id-1' },
      { status: 'FAILURE', result: { exc_type: 'RangeError', exc_message: ['too far'], exc_module: 'builtins' }, traceback: 'RangeError: too far\n    at x', children: [], date_done: '2026-11-26T06:00:00.000000', task_id: 'id-2' },
      { status: 'STARTED', result: { pid: 1, hostname: 'h', attempt: 1 }, traceback: null, children: [], date_done: null, task_id: 'ü-3' },
      { status: 'SUCCESS', result: undefined, traceback: null, children: [], date_done: null, task_id: 'id-4' },
      { status: 'SUCCESS', result: 1, traceback: null, children: ['c'], date_done: null, task_id: 'id-5', name: 'x' },
    ] as const;
    for (const record of records) {
      expect(new TextDecoder().decode(encodeRecord(record))).toBe(pythonJsonStringify(record));
    }
  });
});

describe("Python's NaN, Infinity and -Infinity", () => {
  // What json.dumps writes for float('nan') and float('inf') (allow_nan, its default): not JSON, but what Celery sends.
  const python = execFileSync(
    '/usr/bin/python3',
    ['-c', 'import json, sys; n = float("nan"); i = float("inf"); sys.stdout.write(json.dumps([[n, i, -i, 1e300], {"a": [n, {"b": -i}], "s": "NaN Infinity -Infinity"}, None]))'],
    { encoding: 'utf8' },
  );

  it('read as numbers by both JSON serializers; the same words inside strings stay text', () => {
    expect(python).toContain('[NaN, Infinity, -Infinity,');
    const expected = [[Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e300], { a: [Number.NaN, { b: Number.NEGATIVE_INFINITY }], s: 'NaN Infinity -Infinity' }, null];
    expect(jsonSerializer.decode(new TextEncoder().encode(python))).toEqual(expected);
    expect(losslessJsonSerializer.decode(new TextEncoder().encode(python))).toEqual(expected);
    expect(losslessJsonSerializer.decode(new TextEncoder().encode('[123456789012345678901234567890, NaN]'))).toEqual([123456789012345678901234567890n, Number.NaN]);
  });

  it('text that is not JSON otherwise is still a decode error, and the pollution checks still hold', () => {
    expect(() => jsonSerializer.decode(new TextEncoder().encode('[NaN, nope]'))).toThrow(MessageDecodeError);
    expect(() => jsonSerializer.decode(new TextEncoder().encode('[Nan]'))).toThrow(MessageDecodeError);
    expect(() => safeJsonParse('{"__proto__": {"polluted": NaN}}')).toThrow(MessageDecodeError);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
