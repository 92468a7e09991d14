import { isTqError, type App, type Beat } from '@tq/core';
import type { Context, Hono } from 'hono';

/** A ConfigError (no such schedule, a code entry removed) is the caller's mistake; anything else is ours. */
function failed(c: Context, error: unknown) {
  if (isTqError(error, 'TQ_CONFIG_INVALID')) return c.json({ error: (error as Error).message }, 409);
  throw error;
}

/**
 * The periodic schedules of one beat namespace (what `tq beat list|pause|resume|remove` does):
 * each entry with its source, next and last run, and pause state, read from the beat's store
 * (the result backend), so it shows every beat's state whether one runs here or not.
 */
export function addScheduleRoutes(server: Hono, app: App, namespace: string): { close(): Promise<void> } {
  let beat: Beat | undefined;
  const schedules = () => (beat ??= app.beat({ namespace })).schedules;

  server.get('/api/schedules', async (c) => {
    if (!(await app.backend())) return c.json({ namespace, error: 'schedules live in the result backend, and this app has none', schedules: [] }, 501);
    const listing = await schedules().list();
    return c.json({
      namespace,
      schedules: listing.map(({ name, definition, source, paused, nextRun, lastRun, fired }) => ({
        name,
        task: definition.task,
        timing: definition.cron !== undefined ? `cron ${definition.cron}` : definition.every !== undefined ? `every ${definition.every}` : `at ${definition.at}`,
        timezone: definition.timezone ?? null,
        queue: definition.options?.queue ?? null,
        source,
        paused,
        nextRun: nextRun?.getTime() ?? null,
        lastRun: lastRun?.getTime() ?? null,
        fired,
      })),
    });
  });

  for (const action of ['pause', 'resume'] as const) {
    server.post(`/api/schedules/:name/${action}`, async (c) => {
      const name = c.req.param('name');
      try {
        await schedules()[action](name);
      } catch (error) {
        return failed(c, error);
      }
      return c.json({ name, paused: action === 'pause' });
    });
  }

  server.delete('/api/schedules/:name', async (c) => {
    const name = c.req.param('name');
    try {
      await schedules().remove(name);
    } catch (error) {
      return failed(c, error);
    }
    return c.json({ name, removed: true });
  });

  // Closes the store the listing opened; the beat itself never ran here.
  return { close: async () => beat?.stop() };
}
