/** Header values → AMQP field types as py-amqp writes them, and back. */
import { isTqError } from '@tq/core/adapter';
import { describe, expect, it } from 'vitest';
import { fromAmqpHeaders, toAmqpHeaders } from '../src/field-table.js';

describe('AMQP field tables', () => {
  it('types values as py-amqp does: int → I (or l beyond 32 bits), float → d, null → V', () => {
    expect(toAmqpHeaders({ s: 'x', small: 0, neg: -5, int32: 2 ** 31 - 1, big: 2 ** 40, f: 1.5, b: true, n: null, a: [1, 'x', null], t: { k: 2 } })).toEqual({
      s: 'x',
      small: { '!': 'int', value: 0 },
      neg: { '!': 'int', value: -5 },
      int32: { '!': 'int', value: 2 ** 31 - 1 },
      big: { '!': 'long', value: 2 ** 40 },
      f: { '!': 'double', value: 1.5 },
      b: true,
      n: null,
      a: [{ '!': 'int', value: 1 }, 'x', null],
      t: { k: { '!': 'int', value: 2 } },
    });
  });

  it('refuses a table key amqplib would read as its type marker ("!")', () => {
    const error = (() => {
      try {
        toAmqpHeaders({ nested: { '!': 'x' } });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(isTqError(error, 'TQ_UNSUPPORTED')).toBe(true);
  });

  it('reads what amqplib decodes: bytes as UTF-8, timestamps and decimals as numbers; drops omitted keys', () => {
    const decoded = fromAmqpHeaders(
      { x: Buffer.from('héllo'), ts: { '!': 'timestamp', value: 1700000000 }, dec: { '!': 'decimal', value: { places: 2, digits: 1234 } }, 'x-death': [{}], keep: [1, { a: null }] },
      /^x-death$/,
    );
    expect(decoded).toEqual({ x: 'héllo', ts: 1700000000, dec: 12.34, keep: [1, { a: null }] });
  });
});
