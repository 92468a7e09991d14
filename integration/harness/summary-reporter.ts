/**
 * Prints, after the run, the broker × suite table: passed / failed / skipped per cell, then
 * every skipped test with its reason (the capability or hook in its title, or the skip note)
 * and every failure with its first error line. Broker = the test file's name
 * (conformance-<broker>.test.ts); suite = the first describe under the adapter's
 * (descriptor, broker, result backend, app: …) or "harness".
 */
import { basename } from 'node:path';
import type { Reporter, TestCase, TestModule } from 'vitest/node';

interface Cell {
  passed: number;
  failed: number;
  skipped: number;
}

const suiteOrder = ['harness', 'descriptor', 'broker', 'result backend', 'app'];

function brokerOf(module: TestModule): string {
  const file = basename(module.moduleId);
  return file.replace(/^conformance-/, '').replace(/\.test\.[cm]?[jt]s$/, '');
}

function suiteOf(test: TestCase): string {
  const path = test.fullName.split(' > ');
  const top = path[0] ?? '';
  const suite = top.startsWith('tq adapter ') ? (path[1] ?? '') : top;
  return suite.startsWith('app') ? 'app' : suite;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const table = new Map<string, Map<string, Cell>>();
    const skipped: string[] = [];
    const failed: string[] = [];
    const endpoints: string[] = [];
    const suites = new Set<string>(suiteOrder);

    for (const module of testModules) {
      const broker = brokerOf(module);
      const row = table.get(broker) ?? new Map<string, Cell>();
      table.set(broker, row);
      for (const error of module.errors()) failed.push(`${broker} · file: ${error.message.split('\n')[0]}`);
      for (const test of module.children.allTests()) {
        const suite = suiteOf(test);
        suites.add(suite);
        const cell = row.get(suite) ?? { passed: 0, failed: 0, skipped: 0 };
        row.set(suite, cell);
        const result = test.result();
        if (suite === 'harness' && test.name.startsWith('endpoint: ')) endpoints.push(`${pad(broker, 14)} ${test.name.slice('endpoint: '.length)}${result.state === 'failed' ? '  ← FAILED' : result.state === 'skipped' ? '  ← skipped' : ''}`);
        if (result.state === 'passed') cell.passed++;
        else if (result.state === 'failed') {
          cell.failed++;
          failed.push(`${broker} · ${suite} · ${test.name}: ${(result.errors[0]?.message ?? 'failed').split('\n')[0]}`);
        } else {
          cell.skipped++;
          const note = result.state === 'skipped' && result.note ? ` — ${result.note}` : '';
          skipped.push(`${broker} · ${suite} · ${test.name}${note}`);
        }
      }
    }

    const columns = [...suites].filter((s) => [...table.values()].some((row) => row.has(s)));
    const width = Math.max(14, ...columns.map((c) => c.length + 2));
    const first = Math.max(10, ...[...table.keys()].map((b) => b.length + 2));
    const lines: string[] = [];
    lines.push('', 'tq integration: broker × suite (passed / failed / skipped)');
    lines.push(pad('broker', first) + columns.map((c) => pad(c, width)).join(''));
    for (const [broker, row] of [...table].sort(([a], [b]) => a.localeCompare(b))) {
      const cells = columns.map((c) => {
        const cell = row.get(c);
        return pad(cell ? `${cell.passed} / ${cell.failed} / ${cell.skipped}${cell.failed ? ' ✗' : ''}` : '—', width);
      });
      lines.push(pad(broker, first) + cells.join(''));
    }
    if (endpoints.length) lines.push('', 'Brokers covered:', ...endpoints.map((e) => `  ${e}`));
    if (skipped.length) lines.push('', `Skipped (${skipped.length}), with why:`, ...skipped.map((s) => `  - ${s}`));
    if (failed.length) lines.push('', `Failed (${failed.length}):`, ...failed.map((f) => `  ✗ ${f}`));
    lines.push('');
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}
