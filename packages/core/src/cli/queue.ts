import type { App } from '../app.js';

export const queueHelp = `tq queue pause NAME… | resume NAME… | status NAME…

Pause or resume queues cluster-wide. A paused queue keeps its messages and still accepts new
ones; every worker stops taking them within a second (running tasks finish, prefetched ones go
back to the broker), including workers started later, until it is resumed. The state is kept in
the result backend.`;

/** `tq queue …`; returns the exit code. */
export async function runQueue(app: App, positionals: readonly string[], usage: (message: string) => Error): Promise<number> {
  const [action, ...names] = positionals;
  if (!names.length || !['pause', 'resume', 'status'].includes(action ?? '')) throw usage('usage: tq queue pause|resume|status NAME…');
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
