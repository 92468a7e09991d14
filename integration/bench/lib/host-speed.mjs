// How fast the machine runs a fixed piece of JavaScript right now, so two runs can be compared.
// On a VM the same build's CPU per task can move by half between hours with nothing else running
// (2026-12-05: 22 then 35 µs an enqueue, docs/benchmarks.md): a ratio is then still a ratio, but
// absolute figures and the ratios of cases that lean on memory are not comparable across runs.
import { execFileSync } from 'node:child_process';

// Work of the kind a task costs: JSON both ways, base64, strings and short-lived objects. A fresh
// process each time, so the JIT starts from the same place; the figure is the median of three.
const workload = `
const message = { id: 'f7429555-f3d6-4e18-9f6f-4128975b0f1e', task: 'bench.noop', args: [1, 2, 'lorem ipsum dolor sit amet, '.repeat(10)], kwargs: {}, retries: 0, eta: null, headers: { lang: 'py', root_id: null, parent_id: null, timelimit: [null, null] } };
let sink = 0;
const run = (n) => { for (let i = 0; i < n; i++) { const text = JSON.stringify({ ...message, id: String(i) }); const body = Buffer.from(text).toString('base64'); sink += JSON.parse(Buffer.from(body, 'base64').toString()).args.length; } };
run(20000);
const start = process.cpuUsage();
run(100000);
const used = process.cpuUsage(start);
console.log(((used.user + used.system) / 100000).toFixed(3));
`;

/** CPU µs one iteration of the fixed workload takes on this machine now (lower is faster). */
export function measureHostSpeed() {
  const runs = [0, 1, 2].map(() => Number(execFileSync(process.execPath, ['-e', workload], { encoding: 'utf8' }).trim()));
  return runs.sort((a, b) => a - b)[1];
}
