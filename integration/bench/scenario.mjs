#!/usr/bin/env node
// Runs one measurement in a process of its own and prints its figures as one JSON line:
//   node integration/bench/scenario.mjs '{"system":"tq","kind":"drain","broker":"redis","tasks":50000,…}'
// run.mjs starts one of these per scenario, so no connection, timer or JIT state of a previous
// scenario skews the next one.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { usePayloadBytes } from './lib/payload.mjs';
import { measuredPhase } from './lib/proc.mjs';

const spec = JSON.parse(process.argv[2] ?? '{}');
usePayloadBytes(spec.payloadBytes);
const systems = {
  tq: () => import('./systems/tq.mjs'),
  bullmq: () => import('./systems/bullmq.mjs'),
  raw: () => import(`./systems/raw-${spec.broker}.mjs`),
};
const marker = 'BENCH-RESULT ';

/**
 * A drain's queue is filled by a producer process of its own (this script with kind "fill"), so
 * the measured process is the worker alone. Kafka's per-run mock cluster lives in one process:
 * there, and for a system without fill/drainFilled, the drain fills in its own process.
 */
function separateProducer(system) {
  return spec.kind === 'drain' && spec.broker !== 'kafka' && system.fill && system.drainFilled;
}

function fillInChild(fillSpec) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), JSON.stringify({ ...fillSpec, kind: 'fill' })], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.on('exit', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith(marker));
      let result = { ok: false, error: `producer process exited (${code}) without its figures` };
      try {
        if (line) result = JSON.parse(line.slice(marker.length));
      } catch {
        // a cut line: reported as above
      }
      if (result.ok) resolve(result);
      else reject(new Error(`fill: ${result.error}`));
    });
  });
}
try {
  if (!systems[spec.system]) throw new Error(`unknown system ${spec.system}`);
  const system = await systems[spec.system]();
  const run = system[spec.kind];
  if (!run) throw new Error(`${spec.system} has no ${spec.kind} scenario`);
  // The system calls phase.start() / phase.stop() around its timed work (the drain, the sends).
  const phase = measuredPhase(spec.broker);
  let figures = separateProducer(system) ? await system.drainFilled(spec, await fillInChild(spec), phase) : await run(spec, phase);
  phase.stop();
  if (spec.kind === 'fill' && figures.ids) {
    // The worker process only needs the ids to clean up: a file, not memory it would hold while measured.
    const idsFile = join(tmpdir(), `tqbench-ids-${process.pid}.json`);
    writeFileSync(idsFile, JSON.stringify(figures.ids));
    figures = { ...figures, ids: undefined, idsFile };
  }
  // Exit once written: a pipe write is asynchronous, and a fill's handle (every task id) is large.
  process.stdout.write(`${marker}${JSON.stringify({ ok: true, ...figures, ...phase.figures(figures.completed ?? spec.tasks) })}\n`, () => process.exit(0));
} catch (error) {
  process.stdout.write(`${marker}${JSON.stringify({ ok: false, error: String(error?.stack ?? error).split('\n').slice(0, 4).join(' | ') })}\n`, () => process.exit(1));
}
