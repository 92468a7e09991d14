#!/usr/bin/env node
// The whole test suite: Nx builds, typechecks, lints and tests every project (packages/* and
// integration/), then this script adds up the Vitest reports and prints one closing line,
// "N passed, N failed, N skipped". A failed build/typecheck/lint task counts as a failure, and
// so does a test target that produced no report (a crash). Exit code 1 on any failure.
// Under CI=true (or TQ_TEST_TESTCONTAINERS=1), scripts/testcontainers-kit.mjs runs the kit for Redis
// and NATS once more through the harness's Testcontainers branch, side by side with the Nx tests
// (it mostly waits on its brokers: ~30 s of CPU); the other suites then use the machine's brokers
// (TQ_TEST_SOURCE=local unless set) rather than the Docker engine it brings up.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const withTestcontainers = ['true', '1'].includes(process.env['CI'] ?? '') || process.env['TQ_TEST_TESTCONTAINERS'] === '1';
const env = {
  ...process.env,
  NX_DAEMON: 'false',
  NX_NO_CLOUD: 'true',
  TQ_TEST_REPORT: '1',
  FORCE_COLOR: '0',
  ...(withTestcontainers ? { TQ_TEST_SOURCE: process.env['TQ_TEST_SOURCE'] || 'local' } : {}),
};
const projects = [...readdirSync(join(root, 'packages')).map((p) => join('packages', p)), 'integration'].filter((dir) =>
  existsSync(join(root, dir, 'package.json')),
);

function firstLine(text) {
  return String(text ?? '').split('\n').find((line) => line.trim()) ?? '';
}

function nx(args) {
  console.log(`\n$ nx ${args.join(' ')}`);
  const run = spawnSync('npx', ['nx', ...args], { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 30 });
  process.stdout.write(run.stdout);
  process.stderr.write(run.stderr);
  // Nx lists failures as "- project:target" under "Failed tasks:".
  const failed = [];
  const lines = `${run.stdout}\n${run.stderr}`.split('\n');
  const start = lines.findIndex((l) => l.includes('Failed tasks:'));
  if (start >= 0) {
    for (const line of lines.slice(start + 1)) {
      const match = /^\s*-\s+(\S+:\S+)/.exec(line);
      if (match) failed.push(match[1]);
      else if (failed.length && line.trim() && !line.trim().startsWith('-')) break;
    }
  }
  if (run.status !== 0 && failed.length === 0) failed.push(`nx ${args[0]} ${args[1] ?? ''} (exit ${run.status})`);
  return failed;
}

for (const dir of projects) rmSync(join(root, dir, 'reports'), { recursive: true, force: true });

const failures = [];
failures.push(...nx(['sync:check']).map((t) => `sync: ${t}`));
failures.push(...nx(['run-many', '-t', 'build', 'typecheck', 'lint', '--outputStyle=static', '--parallel=2']));

// The Testcontainers kit runs in the background; its output goes to a file (this script blocks in
// spawnSync meanwhile, so a pipe would fill and stall it) and is printed when it ends.
const testcontainersDir = join(root, 'integration', 'reports', 'testcontainers');
const testcontainersReports = ['redis', 'nats'].map((broker) => join(testcontainersDir, `${broker}.json`));
const testcontainersLog = join(testcontainersDir, 'run.log');
let testcontainersRun;
if (withTestcontainers) {
  mkdirSync(testcontainersDir, { recursive: true });
  const out = openSync(testcontainersLog, 'w');
  const child = spawn('node', [join(root, 'scripts', 'testcontainers-kit.mjs'), '--report-dir', testcontainersDir], {
    cwd: root,
    env: process.env,
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  testcontainersRun = new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  console.log(`\n$ node scripts/testcontainers-kit.mjs (in the background, log in ${testcontainersLog.slice(root.length)})`);
}
const testFailures = nx(['run-many', '-t', 'test', '--outputStyle=static', '--parallel=1']);
const testcontainersCode = testcontainersRun ? await testcontainersRun : 0;
if (testcontainersRun) {
  console.log(`\n$ node scripts/testcontainers-kit.mjs (exit ${testcontainersCode})`);
  process.stdout.write(readFileSync(testcontainersLog, 'utf8'));
}

let passed = 0;
let failed = 0;
let skipped = 0;
const rows = [];
const failedTests = [];

/** Adds one Vitest JSON report to the totals and the table, and its failed tests to the list. */
function tally(label, report) {
  const p = report.numPassedTests;
  const f = report.numFailedTests + (report.numFailedTestSuites ?? 0);
  const s = report.numPendingTests + report.numTodoTests;
  passed += p;
  failed += f;
  skipped += s;
  rows.push([label, p, f, s, f ? 'FAILED' : 'ok']);
  for (const file of report.testResults ?? []) {
    const where = file.name.slice(root.length);
    if (file.status === 'failed' && !(file.assertionResults ?? []).some((t) => t.status === 'failed')) failedTests.push(`${label} ${where}: ${firstLine(file.message)}`);
    for (const test of file.assertionResults ?? []) if (test.status === 'failed') failedTests.push(`${label} ${where} > ${test.fullName}: ${firstLine(test.failureMessages?.[0])}`);
  }
}
for (const dir of projects) {
  const name = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')).name;
  if (!existsSync(join(root, dir, 'vitest.config.ts'))) continue;
  const reportPath = join(root, dir, 'reports', 'vitest.json');
  if (!existsSync(reportPath)) {
    rows.push([name, '-', '-', '-', 'no report: the test run crashed or did not start']);
    failures.push(`${name}:test (no report)`);
    continue;
  }
  tally(name, JSON.parse(readFileSync(reportPath, 'utf8')));
}
for (const file of testcontainersRun ? testcontainersReports.filter((f) => existsSync(f)) : []) {
  tally(`Testcontainers ${file.slice(testcontainersDir.length + 1, -'.json'.length)}`, JSON.parse(readFileSync(file, 'utf8')));
}
// A kit run that failed without a failed test (Docker not brought up, a crash) still counts.
if (testcontainersCode !== 0 && !rows.some((r) => String(r[0]).startsWith('Testcontainers') && r[2] > 0))
  failures.push(`node scripts/testcontainers-kit.mjs (exit ${testcontainersCode}: see its log above)`);
// Test targets that failed without a failed test (e.g. a suite that failed to load) still count.
for (const task of testFailures) {
  const project = task.split(':')[0];
  if (!rows.some((r) => r[0] === project && r[2] > 0)) failures.push(task);
}
failed += failures.length;

console.log('\nproject                 passed  failed  skipped');
for (const [name, p, f, s, note] of rows) console.log(`${String(name).padEnd(22)}  ${String(p).padStart(6)}  ${String(f).padStart(6)}  ${String(s).padStart(7)}  ${note}`);
for (const failure of failures) console.log(`failed task: ${failure}`);
// Named again at the end, where a CI log cut to its tail still shows them.
for (const test of failedTests) console.log(`failed test: ${test}`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
