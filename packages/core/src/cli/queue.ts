import type { App } from '../app.js';
import type { ScheduledMessage } from '../queues/scheduled.js';

export const queueHelp = `tq queue pause NAME… | resume NAME… | status NAME… | scheduled NAME… [--limit N] [--json]

Pause or resume queues cluster-wide. A paused queue keeps its messages and still accepts new
ones; every worker stops taking them within a second (running tasks finish, prefetched ones go
back to the broker), including workers started later, until it is resumed. The state is kept in
the result backend.

scheduled lists the countdown/ETA tasks waiting in the broker's delay store for each queue,
soonest first (eta, id, task, args), at most --limit (default 100) per queue: on Redis, Postgres
and memory:// (capabilities.listDelayed). Tasks a worker already holds, due within its ETA
horizon, are not there: "tq inspect scheduled" shows both.`;

export const queueOptions = {
  limit: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** `tq queue …`; returns the exit code. */
export async function runQueue(
  app: App,
  positionals: readonly string[],
  usage: (message: string) => Error,
  values: Record<string, string | boolean | undefined> = {},
): Promise<number> {
  const [action, ...names] = positionals;
  if (!names.length || !['pause', 'resume', 'status', 'scheduled'].includes(action ?? '')) throw usage('usage: tq queue pause|resume|status|scheduled NAME…');
  if (action === 'scheduled') return printScheduled(app, names, values, usage);
  for (const name of names) {
    if (action === 'pause') {
      await app.queues.pause(name);
      process.stdout.write(`${name}: paused\n`);
    } else if (action === 'resume') {
      await app.queues.resume(name);
      process.stdout.write(`${name}: resumed\n`);
    } else {
      const record = await app.queues.paused(name);
      process.stdout.write(record ? `${name}: paused since ${record.at} (by ${record.by})\n` : `${name}: active\n`);
    }
  }
  return 0;
}

async function printScheduled(app: App, names: readonly string[], values: Record<string, string | boolean | undefined>, usage: (message: string) => Error): Promise<number> {
  const limit = typeof values['limit'] === 'string' ? Number(values['limit']) : undefined;
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1)) throw usage(`--limit must be a positive integer, got "${String(values['limit'])}"`);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  let header = !values['json'];
  for (const queue of names) {
    const tasks = await app.queues.scheduled(queue, limit === undefined ? {} : { limit });
    // After the first answer: a broker that cannot list them fails before any table is printed.
    if (header) out(['queue', 'eta', 'id', 'task', 'args'].join('\t'));
    header = false;
    for (const task of tasks) out(values['json'] ? JSON.stringify({ queue, ...summary(task) }) : [queue, task.eta, task.id ?? '-', task.task ?? '-', args(task)].join('\t'));
    process.stderr.write(`${tasks.length} scheduled task(s) in the broker for ${queue}${limit !== undefined && tasks.length === limit ? ` (first ${limit})` : ''}\n`);
  }
  return 0;
}

function summary(task: ScheduledMessage): Record<string, unknown> {
  return { eta: task.eta, id: task.id, task: task.task, argsrepr: task.argsrepr, kwargsrepr: task.kwargsrepr };
}

function args(task: ScheduledMessage): string {
  if (task.argsrepr === null && task.kwargsrepr === null) return '-';
  return [task.argsrepr, task.kwargsrepr].filter((part) => part !== null && part !== '{}').join(' ');
}
