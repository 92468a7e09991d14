import { deadLetterSummary, type App, type DeadLetterFilter } from '@tq/core';
import type { Hono } from 'hono';

/** How long the list of queue names (from `inspect active_queues`) is reused. */
const queueNamesCacheMs = 5000;
/** Most dead letters one listing shows (the sweep holds them unacked while it reads). */
const deadListLimit = 500;

/** The selection of a replay or purge: `{ids?: string[], task?: string}`; nothing selects every dead letter. */
function deadFilter(queue: string, body: unknown): DeadLetterFilter | string {
  const { ids, task } = (body ?? {}) as { ids?: unknown; task?: unknown };
  if (ids !== undefined && !(Array.isArray(ids) && ids.every((id) => typeof id === 'string'))) return 'ids must be a list of task ids';
  if (task !== undefined && typeof task !== 'string') return 'task must be a task name';
  return { queue, ...(ids ? { ids: ids as string[] } : {}), ...(task ? { task } : {}) };
}

/**
 * The queue routes: counts (with the pause state), and the actions of queue administration in
 * core, so the dashboard does what `tq queue pause|resume`, `tq purge` and `tq dead` do.
 */
export function addQueueRoutes(server: Hono, app: App): void {
  // Queues are named by live workers; one that a pause took out of every worker's active
  // queues must stay listed, or it could not be resumed from here: every name seen is kept.
  const seen = new Set<string>([app.config.defaultQueue]);
  let queueNames: { at: number; names: Promise<string[]> } | undefined;
  const knownQueues = (): Promise<string[]> => {
    if (!queueNames || Date.now() - queueNames.at > queueNamesCacheMs) {
      const names = app.control
        .inspect('active_queues', { timeoutMs: 500 })
        .catch(() => [])
        .then((replies) => {
          for (const reply of replies) for (const queue of (reply.result as { name?: unknown }[] | null) ?? []) if (typeof queue?.name === 'string') seen.add(queue.name);
          return [...seen].sort();
        });
      queueNames = { at: Date.now(), names };
    }
    return queueNames.names;
  };
  /** The pause record, or null; undefined without a result backend (pausing needs one). */
  const pauseOf = async (queue: string) => ((await app.backend()) ? app.queues.paused(queue) : undefined);

  /** Each queue's counts as its broker keeps them (ready, unacked, dead, consumers, age of the oldest); null where it cannot tell. */
  server.get('/api/queues', async (c) => {
    const broker = await app.broker();
    const names = await knownQueues();
    const counts = broker.capabilities.queueStats;
    const queues = await Promise.all(
      names.map(async (name) => {
        const paused = await pauseOf(name);
        return { name, ...(counts ? await app.queueStats(name) : {}), paused: paused === undefined ? null : paused !== null, pausedAt: paused?.at ?? null };
      }),
    );
    return c.json({ at: Date.now(), queues, ...(counts ? {} : { error: 'this broker cannot count its queues' }) });
  });

  /**
   * The countdown/ETA tasks waiting in the broker's delay store for a queue (where the broker can
   * list them: capabilities.listDelayed); those a worker holds are in its inspect 'scheduled' answer.
   */
  server.get('/api/queues/:queue/scheduled', async (c) => {
    const queue = c.req.param('queue');
    if (!(await app.broker()).capabilities.listDelayed) return c.json({ queue, error: 'this broker cannot list the countdown/ETA tasks it holds', scheduled: [] }, 501);
    const limit = Number(c.req.query('limit') ?? 100);
    if (!(Number.isInteger(limit) && limit >= 1 && limit <= 10_000)) return c.json({ queue, error: 'limit must be an integer from 1 to 10000', scheduled: [] }, 400);
    const scheduled = (await app.queues.scheduled(queue, { limit })).map(({ eta, id, task, argsrepr, kwargsrepr }) => ({ eta, id, task, argsrepr, kwargsrepr }));
    return c.json({ queue, scheduled });
  });

  server.post('/api/queues/:queue/purge', async (c) => {
    const queue = c.req.param('queue');
    return c.json({ queue, purged: await app.purge(queue) });
  });

  for (const action of ['pause', 'resume'] as const) {
    server.post(`/api/queues/:queue/${action}`, async (c) => {
      const queue = c.req.param('queue');
      if (!(await app.backend())) return c.json({ error: 'pausing a queue needs a result backend: its state is stored there' }, 409);
      seen.add(queue);
      await app.queues[action](queue);
      return c.json({ queue, paused: action === 'pause' });
    });
  }

  server.get('/api/queues/:queue/dead', async (c) => {
    const queue = c.req.param('queue');
    const task = c.req.query('task');
    const letters = await app.deadLetters.list({ queue, limit: deadListLimit, ...(task ? { task } : {}) });
    return c.json({ queue, store: app.deadLetters.queueOf(queue), letters: letters.map(deadLetterSummary) });
  });

  for (const action of ['replay', 'purge'] as const) {
    server.post(`/api/queues/:queue/dead/${action}`, async (c) => {
      const filter = deadFilter(c.req.param('queue'), await c.req.json().catch(() => ({})));
      if (typeof filter === 'string') return c.json({ error: filter }, 400);
      const done = await app.deadLetters[action](filter);
      return c.json({ queue: filter.queue, [action === 'replay' ? 'replayed' : 'purged']: done.map(deadLetterSummary) });
    });
  }
}
