// The tq demo: a producer and a worker pool on the embedded memory:// broker, in one process.
// Tasks are sent by name; their states and progress are read back from the result backend,
// live, as any other process would see them. One task fails on purpose to show its traceback.
//   npm run demo
import { createApp, TaskError } from '@tq/core';

// Logs off: the live table below is the output (a task failing on purpose would log a warning).
const app = createApp({ broker: 'memory://demo', resultBackend: 'memory://demo', logLevel: 'silent' });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- tasks (a worker would load these from a module; see examples/quickstart) ----
app.task('reports.build', async function (name, pages) {
  for (let page = 1; page <= pages; page++) {
    await sleep(120);
    await this.updateState('PROGRESS', { current: page, total: pages });
  }
  return { report: name, pages };
});
app.task('media.resize', async (file, width) => {
  await sleep(300);
  return `${file}@${width}w`;
});
app.task('billing.charge', async (customer, cents) => {
  await sleep(200);
  if (cents > 100_000) throw new RangeError(`charge of ${cents} cents for ${customer} exceeds the card limit`);
  return { customer, cents, status: 'paid' };
});
app.task('feeds.fetch', async function (url) {
  await sleep(150);
  // A transient failure on the first try: the task is re-sent with retries + 1 (state RETRY).
  if (this.retries === 0) this.retry({ countdown: 0.3, error: new Error(`${url} timed out`) });
  return `${url}: 42 items`;
});
app.task('tq.add', (a, b) => a + b);

// ---- the run ----
const worker = app.worker({ concurrency: 3 });
await worker.start();

const jobs = [
  ['reports.build', ['q3-sales', 8]],
  ['media.resize', ['cat.png', 640]],
  ['billing.charge', ['acme', 4_200]],
  ['reports.build', ['inventory', 5]],
  ['billing.charge', ['globex', 250_000]], // fails: over the limit
  ['tq.add', [2, 3]],
  ['feeds.fetch', ['https://example.com/feed']],
  ['media.resize', ['dog.png', 1280]],
  ['reports.build', ['churn', 6]],
];

const started = performance.now();
const rows = [];
for (const [name, args] of jobs) {
  const result = await app.sendTask(name, args); // by name: no task code needed to send
  rows.push({ name, args, result, state: 'PENDING', detail: '' });
}

const tty = Boolean(process.stdout.isTTY);
const bar = (meta) => {
  if (!meta || typeof meta.total !== 'number') return '';
  const filled = Math.round((meta.current / meta.total) * 16);
  return `[${'█'.repeat(filled)}${'░'.repeat(16 - filled)}] ${meta.current}/${meta.total}`;
};
const line = (r) => `${r.result.id.slice(0, 8)}  ${r.name.padEnd(15)} ${r.state.padEnd(8)} ${r.detail}`;
let drawn = 0;
function draw() {
  if (!tty) return;
  if (drawn) process.stdout.write(`\x1b[${drawn}A`);
  const lines = [`${'task'.padEnd(8)}  ${'name'.padEnd(15)} ${'state'.padEnd(8)} progress / result`, ...rows.map(line)];
  for (const l of lines) process.stdout.write(`\x1b[2K${l}\n`);
  drawn = lines.length;
}

console.log(`tq demo: ${jobs.length} tasks sent by name to memory://demo, worker pool of ${worker.concurrency}\n`);
draw();
await Promise.all(
  rows.map(async (row) => {
    for await (const record of row.result.updates({ timeout: 30_000 })) {
      row.state = record.status;
      row.detail =
        record.status === 'PROGRESS' ? bar(record.result)
        : record.status === 'SUCCESS' ? JSON.stringify(record.result)
        : record.status === 'FAILURE' || record.status === 'RETRY' ? `${record.result.exc_type}: ${record.result.exc_message.join(', ')}`
        : '';
      if (!tty) console.log(line(row));
      draw();
    }
  }),
);
const elapsed = (performance.now() - started) / 1000;

const failed = rows.filter((r) => r.state === 'FAILURE');
for (const row of failed) {
  try {
    await row.result.get();
  } catch (error) {
    if (!(error instanceof TaskError)) throw error;
    console.log(`\n${row.name}[${row.result.id}] failed remotely; get() rethrew it as TaskError:`);
    console.log(`  type:    ${error.excType}\n  message: ${error.excMessage}\n  traceback:`);
    console.log(error.traceback.split('\n').slice(0, 5).map((l) => `    ${l}`).join('\n'));
  }
}

const counts = {};
for (const row of rows) counts[row.state] = (counts[row.state] ?? 0) + 1;
console.log(`\nsummary: ${rows.length} tasks in ${elapsed.toFixed(2)}s — ${Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(', ')}`);
console.log(`worker stats: ${JSON.stringify(worker.stats)}`);
await worker.stop();
await app.close();
process.exit(failed.length === 1 && counts.SUCCESS === rows.length - 1 ? 0 : 1);
