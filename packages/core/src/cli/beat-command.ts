import type { App } from '../app.js';
import { bridgedIfMemory } from './load-app.js';
import { ConfigError } from '../errors.js';
import type { Beat } from '../schedule/beat.js';
import { assertSchedule } from '../schedule/assert-schedule.js';
import type { ScheduleDefinition } from '../schedule/schedule-entry.js';

export const beatHelp = `tq beat [list | add NAME JSON | update NAME JSON | remove NAME | pause NAME | resume NAME] --app ./tasks.js

Without a subcommand: run the periodic scheduler until SIGTERM/SIGINT. Run it on as many nodes
as you like: one holds the lease and sends each tick, exactly once; another takes over within
--lease seconds when it dies. The lease, each schedule's last tick and runtime schedules live in
the result backend (redis://, nats:// or memory://), else in a backend on the broker's URL.
  list                 every schedule: source, paused, next and last run
  add NAME JSON        add a schedule, e.g. '{"task":"report","cron":"0 3 * * *","timezone":"Europe/Paris"}'
  update NAME JSON     replace a schedule (or override one defined in code)
  remove NAME          remove a runtime schedule
  pause NAME / resume NAME
  --namespace N        beat namespace (default "default"): separate apps sharing a store
  --lease S            lease length in seconds (default 10)`;

export const beatOptions = { namespace: { type: 'string' }, lease: { type: 'string' } } as const;

/** Beat options from the CLI flags. */
export function beatFlags(values: Record<string, string | boolean | undefined>): { namespace?: string; leaseMs?: number } {
  const lease = values['lease'];
  const leaseSeconds = typeof lease === 'string' ? Number(lease) : undefined;
  if (leaseSeconds !== undefined && !(leaseSeconds >= 2)) throw new ConfigError([{ path: '--lease', message: `expected at least 2 seconds, got "${String(lease)}"` }]);
  return {
    ...(typeof values['namespace'] === 'string' ? { namespace: values['namespace'] } : {}),
    ...(leaseSeconds !== undefined ? { leaseMs: leaseSeconds * 1000 } : {}),
  };
}

function definitionArg(name: string | undefined, json: string | undefined): [string, ScheduleDefinition] {
  if (!name || json === undefined) throw new ConfigError([{ path: 'tq beat', message: 'usage: tq beat add|update NAME JSON' }]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (cause) {
    throw new ConfigError([{ path: `schedules.${name}`, message: `not JSON: ${(cause as Error).message}` }], { cause });
  }
  assertSchedule(name, parsed);
  return [name, parsed];
}

/** `tq beat` and its subcommands. */
export async function runBeat(app: App, positionals: readonly string[], values: Record<string, string | boolean | undefined>): Promise<number> {
  const [action, name, json] = positionals;
  if (action === undefined && typeof app.config.broker === 'string' && app.config.broker.startsWith('memory:')) {
    await app.close();
    throw new ConfigError([{ path: 'broker', message: 'a standalone tq beat on memory:// would send into its own process, where no worker runs: use tq worker --beat, or a shared broker (--broker redis://…)' }]);
  }
  // Edits on memory:// go to the `tq worker --beat` that keeps the records, through its bridge.
  const beat = (action === undefined ? app : bridgedIfMemory(app)).beat(beatFlags(values));
  try {
    if (action === undefined) return await runScheduler(beat);
    const admin = beat.schedules;
    switch (action) {
      case 'list':
        return await printList(beat);
      case 'add':
        await admin.add(...definitionArg(name, json));
        break;
      case 'update':
        await admin.update(...definitionArg(name, json));
        break;
      case 'remove':
      case 'pause':
      case 'resume':
        if (!name) throw new ConfigError([{ path: 'tq beat', message: `usage: tq beat ${action} NAME` }]);
        await admin[action](name);
        break;
      default:
        throw new ConfigError([{ path: 'tq beat', message: `unknown subcommand "${action}": list, add, update, remove, pause or resume` }]);
    }
    process.stdout.write(`${action}: ${name}\n`);
    return 0;
  } finally {
    await beat.stop();
    await beat.app.close();
    await app.close();
  }
}

async function printList(beat: Beat): Promise<number> {
  const rows = [['name', 'task', 'when', 'source', 'state', 'next run', 'last run', 'fired']];
  for (const entry of await beat.schedules.list()) {
    const d = entry.definition;
    const when = d.cron !== undefined ? `cron ${d.cron}${d.timezone ? ` ${d.timezone}` : ''}` : d.every !== undefined ? `every ${d.every}` : `at ${String(d.at)}`;
    rows.push([entry.name, d.task, when, entry.source, entry.paused ? 'paused' : 'active', entry.nextRun?.toISOString() ?? '-', entry.lastRun?.toISOString() ?? '-', String(entry.fired)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  process.stdout.write(`${rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')}\n`);
  return 0;
}

async function runScheduler(beat: Beat): Promise<number> {
  await beat.start();
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  return 0;
}
