// How fast the machine runs fixed pieces of work right now, so two runs can be compared. On
// these VMs the same build's figures move a lot between sessions (2026-12-05: 22 µs of producer
// CPU an enqueue at 00:11 on one VM, 35 µs at 03:16 on the next, docs/benchmarks.md), and the
// compute figure below moved between 4 and 6.5 µs within minutes on one VM. A ratio of two
// systems measured side by side holds up better than an absolute figure, but not entirely.
import { execFileSync } from 'node:child_process';

// Two figures, each the median of three fresh processes (the JIT starts from the same place):
// - compute: work of the kind a task costs, JSON both ways, base64, short-lived objects;
// - loopback: a 512-byte TCP round trip on 127.0.0.1 within one process, what a broker command
//   costs the client and the kernel.
// Runs before 2026-12-05 have neither figure; 2026-12-05-a17792e-pairs-fast-host.json has the
// compute one only (as hostSpeedUs).
const compute = `
const message = { id: 'f7429555-f3d6-4e18-9f6f-4128975b0f1e', task: 'bench.noop', args: [1, 2, 'lorem ipsum dolor sit amet, '.repeat(10)], kwargs: {}, retries: 0, eta: null, headers: { lang: 'py', root_id: null, parent_id: null, timelimit: [null, null] } };
let sink = 0;
const run = (n) => { for (let i = 0; i < n; i++) { const text = JSON.stringify({ ...message, id: String(i) }); const body = Buffer.from(text).toString('base64'); sink += JSON.parse(Buffer.from(body, 'base64').toString()).args.length; } };
run(20000);
const start = process.cpuUsage();
run(100000);
const used = process.cpuUsage(start);
console.log(((used.user + used.system) / 100000).toFixed(3));
`;
const loopback = `
const net = require('node:net');
const server = net.createServer((socket) => socket.on('data', (data) => socket.write(data)));
server.listen(0, '127.0.0.1', async () => {
  const client = net.connect(server.address().port, '127.0.0.1');
  await new Promise((resolve) => client.once('connect', resolve));
  client.setNoDelay(true);
  const payload = Buffer.alloc(512, 97);
  const run = async (n) => { for (let i = 0; i < n; i++) await new Promise((resolve) => { client.once('data', resolve); client.write(payload); }); };
  await run(2000);
  const start = process.cpuUsage();
  await run(20000);
  const used = process.cpuUsage(start);
  console.log(((used.user + used.system) / 20000).toFixed(2));
  client.destroy();
  server.close();
});
`;

function medianOfThree(script) {
  const runs = [0, 1, 2].map(() => Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim()));
  return runs.sort((a, b) => a - b)[1];
}

/** CPU µs of one compute iteration and of one loopback round trip on this machine now (lower is faster). */
export function measureHostSpeed() {
  return { computeUs: medianOfThree(compute), loopbackUs: medianOfThree(loopback) };
}

export function describeHostSpeed({ computeUs, loopbackUs }) {
  return `compute ${computeUs} µs, loopback round trip ${loopbackUs} µs CPU`;
}
