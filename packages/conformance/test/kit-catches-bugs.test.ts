/**
 * The kit's tests can fail: each mutant in test/mutants is a memory broker or backend with one
 * deliberate bug, and the kit test named here must FAIL on it. Runs the mutants in a child
 * Vitest (their failures are the expected outcome, not this run's) and reads its JSON report.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const packageRoot = fileURLToPath(new URL('..', import.meta.url));
const vitestBin = fileURLToPath(new URL('../../../node_modules/vitest/vitest.mjs', import.meta.url));

interface AssertionResult {
  readonly ancestorTitles: readonly string[];
  readonly title: string;
  readonly status: string;
}

/** mutant describe title → kit test titles (prefix match) that must fail on it. */
const mustFail: Readonly<Record<string, readonly string[]>> = {
  'mutant: drops unknown headers': ['round trip keeps body, headers and properties exact', 'unicode in body and headers'],
  'mutant: truncates bodies over 64 KiB': ['large body'],
  'mutant: claims delayedDelivery, delivers at once': [
    'notBefore holds a message until its time',
    'delayed messages arrive each once, not early',
    "a delayed message survives its consumer's lost connection",
    '10k delayed messages wait in the broker, not in the consumer',
  ],
  'mutant: listDelayed ignores its limit and lists latest first': ["listDelayed reads a queue's delayed messages soonest first"],
  'mutant: claims purgeDelayed, purges ready messages only': ["purge also removes the queue's delayed messages and counts them"],
  'mutant: ignores prefetch': ['prefetch is never exceeded', 'prefetch 1 hands out one delivery at a time'],
  'mutant: reject(false) requeues': ['reject without requeue never returns the message to its queue'],
  'mutant: every 50th ack also republishes': ['4 consumers get distinct messages'],
  'mutant: close acks what is outstanding (loses it)': ['close while consuming loses nothing', "unacked deliveries come back when the consumer's connection is cut"],
  'mutant: only the first subscriber of a channel hears broadcasts': ['every subscriber receives each broadcast'],
  'mutant: topic subscribers ignore their binding pattern': ['a topic channel routes by routing-key pattern'],
  'mutant: queueStats counts unacked deliveries as ready': ['counts ready, unacked and dead-lettered messages of one queue'],
  'mutant: store keeps the first record': ['store replaces the previous record', 'progress updates: every fetch sees the latest'],
  'mutant: claims expiry, ignores ttlMs': ['records expire after ttlMs'],
  'mutant: retain keeps one record too many': ['retain keeps the newest N of a group'],
  'mutant: a claim on a held key overwrites it (last writer wins)': ['20 clients claiming one key at once', 'a claim ends after its ttl'],
  'mutant: compare-and-set writes whatever the version (last writer wins)': ['create only when absent', 'of writers racing from one version, exactly one wins'],
  'mutant: chord join counts without atomicity': ['12 chords × 8 parts from 8 clients at once'],
  'mutant: gives unread deliveries back only 8 s after the stop': ['aborting gives unread deliveries back at once, while the connection stays open'],
  'mutant: publishInTransaction ignores the transaction': ['rollback: the message never exists', 'commit: invisible until the commit'],
  'mutant: claims publish deduplication, ignores the id': ['a repeated deduplicationId enqueues nothing', 'a delayed publish is deduplicated too'],
  'mutant: never flags redelivered': ['reject with requeue redelivers the same message', "unacked deliveries come back when the consumer's connection is cut"],
};

let results: AssertionResult[] = [];

beforeAll(async () => {
  const output = join(mkdtempSync(join(tmpdir(), 'tq-mutants-')), 'report.json');
  await promisify(execFile)(process.execPath, [vitestBin, 'run', '--config', 'test/mutants/vitest.config.ts', '--reporter=json', `--outputFile=${output}`], {
    cwd: packageRoot,
    maxBuffer: 64 * 1024 * 1024,
    // Without TQ_TEST_REPORT: the child must not overwrite this package's reports/vitest.json.
    env: Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== 'TQ_TEST_REPORT')),
  }).catch((error: { code?: number | string; signal?: string; stderr?: string }) => {
    // Exit code 1 = some tests failed, which is the point; anything else is a broken run.
    if (error.code !== 1) throw new Error(`the mutant run ended with code ${error.code} signal ${error.signal}:\n${error.stderr?.slice(-4000)}`);
  });
  const report = JSON.parse(readFileSync(output, 'utf8')) as { testResults: { assertionResults: AssertionResult[] }[] };
  results = report.testResults.flatMap((file) => file.assertionResults);
}, 600_000);

describe('the kit catches deliberate bugs', () => {
  for (const [mutant, titles] of Object.entries(mustFail)) {
    for (const title of titles) {
      it(`${mutant} → "${title}" fails`, () => {
        const matching = results.filter((r) => r.ancestorTitles[0] === mutant && r.title.startsWith(title));
        expect(matching.length, `no test "${title}" ran under "${mutant}"`).toBeGreaterThan(0);
        expect(matching.map((r) => r.status)).toEqual(matching.map(() => 'failed'));
      });
    }
  }
});
