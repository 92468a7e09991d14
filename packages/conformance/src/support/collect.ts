import { withTimeout } from './timing.js';

/**
 * Reads exactly `n` items from `source` (then stops reading), failing with the count
 * reached if they do not all arrive within `timeoutMs`.
 */
export async function collect<T>(source: AsyncIterable<T>, n: number, timeoutMs = 10_000): Promise<T[]> {
  const items: T[] = [];
  if (n <= 0) return items;
  const iterator = source[Symbol.asyncIterator]();
  const reading = (async () => {
    while (items.length < n) {
      const result = await iterator.next();
      if (result.done) throw new Error(`the iterable ended after ${items.length} of ${n} items`);
      items.push(result.value);
    }
  })();
  try {
    await withTimeout(reading, timeoutMs, `collect(${n})`);
  } catch (error) {
    // A next() may still be pending: ask the iterator to stop without waiting for it.
    void Promise.resolve(iterator.return?.()).catch(() => undefined);
    if (error instanceof Error && error.message.startsWith('timed out')) {
      throw new Error(`collect(${n}) timed out after ${timeoutMs} ms with ${items.length} items`, { cause: error });
    }
    throw error;
  }
  await iterator.return?.();
  return items;
}
