import { randomBytes } from 'node:crypto';

/**
 * A name no other test (in this run or a parallel one on the same broker) uses:
 * `<prefix>-<label>-<random>`. Only [a-z0-9-], which every broker accepts in a queue,
 * stream, subject or topic name.
 */
export function uniqueName(label: string, prefix = 'tqc'): string {
  const clean = label.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return `${prefix}-${clean}-${randomBytes(5).toString('hex')}`;
}
