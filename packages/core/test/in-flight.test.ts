import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { InFlightMap, InFlightSet, TaskIdMap } from '../src/broker/in-flight.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/**
 * Whether an object that `use` was given, and nothing else kept, is gone after a full collection
 * (run once this job is over: a WeakRef keeps its target alive until then).
 */
async function collectedAfter(use: (object: object) => void): Promise<boolean> {
  let watched: WeakRef<object>;
  (() => {
    const object = { payload: 'x'.repeat(1000) };
    watched = new WeakRef(object);
    use(object);
  })();
  await new Promise((resolve) => setImmediate(resolve));
  collectGarbage();
  return watched!.deref() === undefined;
}

/** A repeatable sequence of small integers (no Math.random: a failure must replay). */
function* numbers(seed: number, count: number, below: number): Generator<number> {
  let state = seed;
  for (let i = 0; i < count; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    yield state % below;
  }
}

describe('InFlightSet', () => {
  it('behaves as a Set through a long run of adds and deletes: membership, size and insertion order', () => {
    const items = Array.from({ length: 40 }, (_, i) => ({ i }));
    const set = new InFlightSet<{ i: number }>();
    const model = new Set<{ i: number }>();
    const ops = [...numbers(7, 4000, 80)];
    for (const op of ops) {
      const item = items[op % 40]!;
      if (op < 40) expect(set.delete(item)).toBe(model.delete(item));
      else {
        set.add(item);
        model.add(item);
      }
      expect(set.size).toBe(model.size);
      expect(set.has(item)).toBe(model.has(item));
    }
    expect([...set]).toEqual([...model]);
    expect([...set.values()]).toEqual([...model.values()]);
  });

  it('an add of a member keeps its place; a delete then add moves it to the end', () => {
    const [a, b, c] = [{ n: 'a' }, { n: 'b' }, { n: 'c' }];
    const set = new InFlightSet<{ n: string }>().add(a).add(b).add(c).add(a);
    expect([...set].map((x) => x.n)).toEqual(['a', 'b', 'c']);
    set.delete(a);
    set.add(a);
    expect([...set].map((x) => x.n)).toEqual(['b', 'c', 'a']);
  });

  it('lets the loop that iterates it delete the member it was given, or every member', () => {
    const items = Array.from({ length: 5 }, (_, i) => ({ i }));
    const set = new InFlightSet<{ i: number }>();
    for (const item of items) set.add(item);
    const seen: number[] = [];
    for (const item of set) {
      seen.push(item.i);
      set.delete(item);
    }
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(set.size).toBe(0);
    for (const item of items) set.add(item);
    set.clear();
    expect(set.size).toBe(0);
    expect([...set]).toEqual([]);
  });

  it('keeps nothing of a deleted member: it can be collected while the set lives on', async () => {
    const set = new InFlightSet<object>();
    const survivor = {};
    set.add(survivor);
    const gone = await collectedAfter((member) => {
      set.add(member);
      set.delete(member);
    });
    expect(gone).toBe(true);
    expect(set.has(survivor)).toBe(true);
  });
});

describe('InFlightMap', () => {
  it('behaves as a Map through a long run of sets, gets and deletes, entries in insertion order', () => {
    const keys = Array.from({ length: 30 }, (_, i) => ({ k: i }));
    const map = new InFlightMap<{ k: number }, number>();
    const model = new Map<{ k: number }, number>();
    let step = 0;
    for (const op of numbers(11, 3000, 60)) {
      const key = keys[op % 30]!;
      step++;
      if (op < 30) expect(map.delete(key)).toBe(model.delete(key));
      else {
        map.set(key, step);
        model.set(key, step);
      }
      expect(map.get(key)).toBe(model.get(key));
      expect(map.size).toBe(model.size);
    }
    expect([...map.entries()]).toEqual([...model.entries()]);
    expect([...map.keys()]).toEqual([...model.keys()]);
    expect([...map.values()]).toEqual([...model.values()]);
    expect([...map]).toEqual([...model]);
  });

  it('takes keys that cannot take a property (frozen, sealed, non-extensible) as well as any other', () => {
    const keys = [Object.freeze({ k: 'frozen' }), Object.seal({ k: 'sealed' }), Object.preventExtensions({ k: 'fixed' }), { k: 'plain' }];
    const map = new InFlightMap<{ k: string }, number>();
    keys.forEach((key, i) => map.set(key, i));
    expect([...map.values()]).toEqual([0, 1, 2, 3]);
    expect(keys.map((key) => map.get(key))).toEqual([0, 1, 2, 3]);
    expect(map.delete(keys[0]!)).toBe(true);
    expect(map.delete(keys[0]!)).toBe(false);
    expect(map.has(keys[0]!)).toBe(false);
    map.set(keys[1]!, 10);
    expect([...map]).toEqual([
      [keys[1], 10],
      [keys[2], 2],
      [keys[3], 3],
    ]);
    expect(map.size).toBe(3);
  });

  it('a key frozen while in the map can still be found, deleted and added again', () => {
    const key: { k: string } = { k: 'later frozen' };
    const map = new InFlightMap<{ k: string }, number>();
    map.set(key, 1);
    Object.freeze(key);
    expect(map.get(key)).toBe(1);
    expect(map.delete(key)).toBe(true);
    expect([map.has(key), map.get(key), map.size]).toEqual([false, undefined, 0]);
    map.set(key, 2);
    expect([map.get(key), map.size, [...map.keys()]]).toEqual([2, 1, [key]]);
    expect(map.delete(key)).toBe(true);
    expect(map.size).toBe(0);
  });

  it('a key in two maps keeps a separate entry in each', () => {
    const key = {};
    const [a, b] = [new InFlightMap<object, string>(), new InFlightMap<object, string>()];
    a.set(key, 'a');
    b.set(key, 'b');
    a.delete(key);
    expect([a.get(key), b.get(key), a.size, b.size]).toEqual([undefined, 'b', 0, 1]);
  });

  it('a value of a deleted key can be collected', async () => {
    const map = new InFlightMap<object, object>();
    const key = {};
    const gone = await collectedAfter((value) => {
      map.set(key, value);
      map.delete(key);
    });
    expect(gone).toBe(true);
    expect(map.has(key)).toBe(false);
  });
});

describe('TaskIdMap', () => {
  it('behaves as a Map for any string key, those an object prototype has included', () => {
    const keys = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '123', '', 'a5b9c1e2-0000-4000-8000-000000000000', 'length'];
    const map = new TaskIdMap<number>();
    const model = new Map<string, number>();
    let step = 0;
    for (const op of numbers(3, 2000, keys.length * 2)) {
      const key = keys[op % keys.length]!;
      step++;
      if (op < keys.length) expect(map.delete(key)).toBe(model.delete(key));
      else {
        map.set(key, step);
        model.set(key, step);
      }
      expect(map.get(key)).toBe(model.get(key));
      expect(map.has(key)).toBe(model.has(key));
      expect(map.size).toBe(model.size);
    }
    expect(new TaskIdMap<number>().get('__proto__')).toBeUndefined();
    expect(new TaskIdMap<number>().has('toString')).toBe(false);
  });
});
