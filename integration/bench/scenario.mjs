#!/usr/bin/env node
// Runs one measurement in a process of its own and prints its figures as one JSON line:
//   node integration/bench/scenario.mjs '{"system":"tq","kind":"drain","broker":"redis","tasks":50000,…}'
// run.mjs starts one of these per scenario, so no connection, timer or JIT state of a previous
// scenario skews the next one.
const spec = JSON.parse(process.argv[2] ?? '{}');
const systems = {
  tq: () => import('./systems/tq.mjs'),
  bullmq: () => import('./systems/bullmq.mjs'),
  raw: () => import(`./systems/raw-${spec.broker}.mjs`),
};
const marker = 'BENCH-RESULT ';
try {
  if (!systems[spec.system]) throw new Error(`unknown system ${spec.system}`);
  const system = await systems[spec.system]();
  const run = system[spec.kind];
  if (!run) throw new Error(`${spec.system} has no ${spec.kind} scenario`);
  const figures = await run(spec);
  process.stdout.write(`${marker}${JSON.stringify({ ok: true, ...figures })}\n`);
  process.exit(0);
} catch (error) {
  process.stdout.write(`${marker}${JSON.stringify({ ok: false, error: String(error?.stack ?? error).split('\n').slice(0, 4).join(' | ') })}\n`);
  process.exit(1);
}
