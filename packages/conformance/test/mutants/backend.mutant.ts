/** Broken result backends, each with one bug; see broker.mutant.ts. */
import { createMemoryAdapter, type ChordPart } from '@tq/core/adapter';
import { describe } from 'vitest';
import { describeChordJoin, describeClaim, describeCompareAndSet, describeExpiry, describeRetain, describeStoreFetch } from '../../src/index.js';
import type { BackendFactory } from '../../src/options.js';
import { mutantBackend, type BackendMutation } from './mutant-broker.js';

function factoryWith(mutation: BackendMutation): BackendFactory {
  const memory = createMemoryAdapter();
  return (url) => mutantBackend(memory.createResultBackend!(url, {}), mutation);
}

describe('mutant: store keeps the first record', () => {
  describeStoreFetch(
    factoryWith({
      store: async (inner, taskId, record, options) => {
        if ((await inner.fetch(taskId)) === null) await inner.store(taskId, record, options);
      },
    }),
    { url: 'memory://mutants' },
  );
});

describe('mutant: claims expiry, ignores ttlMs', () => {
  describeExpiry(factoryWith({ store: (inner, taskId, record) => inner.store(taskId, record, {}) }), { url: 'memory://mutants' });
});

describe('mutant: a claim on a held key overwrites it (last writer wins)', () => {
  describeClaim(
    factoryWith({
      claim: async (inner, key, value, ttlMs) => {
        const held = await inner.claim!(key, value, ttlMs);
        if (held === null) return null;
        await inner.releaseClaim!(key, held);
        await inner.claim!(key, value, ttlMs);
        return null;
      },
    }),
    { url: 'memory://mutants' },
  );
});

describe('mutant: compare-and-set writes whatever the version (last writer wins)', () => {
  describeCompareAndSet(
    factoryWith({
      compareAndSet: async (inner, key, value) => {
        for (;;) {
          const current = await inner.getVersioned!(key);
          const written = await inner.compareAndSet!(key, value, current?.version ?? null);
          if (written !== null) return written;
        }
      },
    }),
    { url: 'memory://mutants' },
  );
});

describe('mutant: retain keeps one record too many', () => {
  describeRetain(factoryWith({ retain: (inner, group, taskId, keep) => inner.retain!(group, taskId, keep + 1) }), { url: 'memory://mutants' });
});

describe('mutant: chord join counts without atomicity', () => {
  const memory = createMemoryAdapter();
  // Reads the count, yields, then adds: concurrent parts all see the chord complete (or none does).
  describeChordJoin((url) => {
    const inner = memory.createResultBackend!(url, {});
    const sizes = new Map<string, number>();
    const parts = new Map<string, Map<string, ChordPart>>();
    return {
      ...mutantBackend(inner, {}),
      capabilities: { ...inner.capabilities, chordJoin: true },
      chordSetSize: async (groupId, size) => void sizes.set(groupId, size),
      chordPartReturn: async (groupId, part) => {
        const seen = parts.get(groupId) ?? new Map<string, ChordPart>();
        parts.set(groupId, seen);
        const before = seen.size;
        await new Promise((resolve) => setImmediate(resolve));
        seen.set(Buffer.from(part.encoded).toString('latin1'), part);
        const size = sizes.get(groupId);
        return size !== undefined && before + 1 >= size ? [...seen.values()].map((p) => p.encoded) : null;
      },
    };
  }, { url: 'memory://mutants' });
});
