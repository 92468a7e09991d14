import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isTqError, type App, type ControlReply } from '@tq/core';
import { Hono, type MiddlewareHandler } from 'hono';
import { basicAuth } from 'hono/basic-auth';
import { bearerAuth } from 'hono/bearer-auth';
import { some } from 'hono/combine';
import { HTTPException } from 'hono/http-exception';
import { streamSSE } from 'hono/streaming';
import type { ResolvedAuth } from './auth.js';
import type { HistoryStore, TaskQuery } from './history-store.js';
import type { LiveFeed } from './live-feed.js';
import { addQueueRoutes } from './queue-routes.js';
import { parsePythonLiteral } from './python-literal.js';

const require = createRequire(import.meta.url);
const uiDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'ui');

/**
 * The browser's files: the page and its script from ui/, Preact and htm from node_modules (no
 * CDN, no build step). The import map in index.html names the /vendor/ paths.
 */
const files: Readonly<Record<string, () => string>> = {
  '/': () => join(uiDir, 'index.html'),
  '/app.js': () => join(uiDir, 'app.js'),
  '/style.css': () => join(uiDir, 'style.css'),
  '/vendor/preact.js': () => join(dirname(require.resolve('preact/package.json')), 'dist', 'preact.module.js'),
  '/vendor/preact-hooks.js': () => join(dirname(require.resolve('preact/package.json')), 'hooks', 'dist', 'hooks.module.js'),
  // htm exports no ./package.json; its main file sits beside the ESM build.
  '/vendor/htm.js': () => join(dirname(require.resolve('htm')), 'htm.module.js'),
};

const contentTypes: Readonly<Record<string, string>> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/** How long the workers page reuses the answer to `inspect stats` (pool sizes). */
const statsCacheMs = 5000;

function authMiddleware(auth: ResolvedAuth): MiddlewareHandler | undefined {
  const bearer = auth.token ? bearerAuth({ token: auth.token }) : undefined;
  const basic = auth.basic ? basicAuth({ username: auth.basic.username, password: auth.basic.password, realm: 'tq dashboard' }) : undefined;
  if (bearer && basic) return some(basic, bearer);
  return basic ?? bearer;
}

function numberParam(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** Query times are ISO strings or epoch ms. */
function timeParam(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (Number.isFinite(n)) return n;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? undefined : parsed;
}

/**
 * The dashboard's HTTP surface (Hono): the UI, a JSON API over the history store, actions that
 * go through the app (revoke, terminate, retry; the queue actions in queue-routes.ts), and /api/stream, Server-Sent Events of
 * every change. With basic auth everything is protected; with only a token, the API is (the
 * page itself holds no data and asks for the token).
 */
export function createServer(options: { app: App; store: HistoryStore; feed: LiveFeed; auth: ResolvedAuth }): Hono {
  const { app, store, feed } = options;
  const server = new Hono();
  const auth = authMiddleware(options.auth);
  if (auth) server.use(options.auth.basic ? '*' : '/api/*', auth);

  let stats: { at: number; replies: Promise<ControlReply[]> } | undefined;
  const workerStats = (): Promise<ControlReply[]> => {
    if (!stats || Date.now() - stats.at > statsCacheMs) {
      stats = { at: Date.now(), replies: app.control.inspect('stats', { timeoutMs: 500 }).catch(() => []) };
    }
    return stats.replies;
  };

  for (const [path, file] of Object.entries(files)) {
    server.get(path, async (c) => {
      const name = file();
      const body = await readFile(name, 'utf8');
      return c.body(body, 200, { 'content-type': contentTypes[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
    });
  }
  // Client-side routes (#/tasks/ID) need no server route; /tasks/ID links land on the page too.
  server.get('/tasks/*', (c) => c.redirect('/'));

  server.get('/api/config', (c) => c.json({ defaultQueue: app.config.defaultQueue }));

  server.get('/api/workers', async (c) => {
    const replies = await workerStats();
    const pools = new Map(replies.map((r) => [r.hostname, (r.result as { pool?: unknown } | null)?.pool ?? null]));
    return c.json(store.workers().map((w) => ({ ...w, pool: pools.get(w.hostname) ?? null })));
  });

  server.get('/api/tasks', (c) => {
    const q = c.req.query();
    const query: TaskQuery = {
      ...(q['id'] ? { id: q['id'] } : {}),
      ...(q['name'] ? { name: q['name'] } : {}),
      ...(q['state'] ? { state: q['state'].toUpperCase() } : {}),
      ...(timeParam(q['from']) !== undefined ? { from: timeParam(q['from'])! } : {}),
      ...(timeParam(q['to']) !== undefined ? { to: timeParam(q['to'])! } : {}),
      ...(numberParam(q['limit']) !== undefined ? { limit: numberParam(q['limit'])! } : {}),
      ...(numberParam(q['offset']) !== undefined ? { offset: numberParam(q['offset'])! } : {}),
    };
    return c.json(store.tasks(query));
  });

  server.get('/api/tasks/:id', (c) => {
    const id = c.req.param('id');
    const task = store.task(id);
    if (!task) return c.json({ error: `no task ${id} in the history` }, 404);
    const parent = task.parent_id ? (store.task(task.parent_id) ?? { uuid: task.parent_id }) : null;
    return c.json({ task, events: store.events(id), children: store.children(id), parent });
  });

  server.post('/api/tasks/:id/revoke', async (c) => {
    const id = c.req.param('id');
    const body = (await c.req.json().catch(() => ({}))) as { terminate?: unknown };
    await app.control.revoke([id], { terminate: body.terminate === true });
    return c.json({ revoked: id, terminate: body.terminate === true });
  });

  server.post('/api/tasks/:id/retry', async (c) => {
    const id = c.req.param('id');
    const task = store.task(id);
    if (!task?.name) return c.json({ error: `no task ${id} with a known name in the history` }, 404);
    let args: unknown[];
    let kwargs: Record<string, unknown>;
    // The result record has the real arguments when the worker wrote Celery's extended fields;
    // the events carry only their repr, which is read back when it is whole.
    const record = await app.asyncResult(id).record().catch(() => null);
    try {
      const parsedArgs = record?.args ?? parsePythonLiteral(task.args ?? '()');
      const parsedKwargs = record?.kwargs ?? parsePythonLiteral(task.kwargs ?? '{}');
      if (!Array.isArray(parsedArgs) || parsedKwargs === null || typeof parsedKwargs !== 'object' || Array.isArray(parsedKwargs)) throw new SyntaxError('not an argument list');
      args = parsedArgs;
      kwargs = parsedKwargs as Record<string, unknown>;
    } catch (error) {
      return c.json({ error: `cannot resend ${id}: its arguments are not known exactly (${(error as Error).message})` }, 409);
    }
    const sent = await app.sendTask(task.name, args, kwargs, task.queue ? { queue: task.queue } : {});
    return c.json({ id: sent.id, retryOf: id });
  });

  addQueueRoutes(server, app);

  server.get('/api/stream', (c) =>
    streamSSE(c, async (stream) => {
      let wake: (() => void) | undefined;
      const queue: string[] = [];
      const unsubscribe = feed.subscribe((change) => {
        queue.push(JSON.stringify(change));
        wake?.();
      });
      stream.onAbort(() => {
        unsubscribe();
        wake?.();
      });
      await stream.writeSSE({ event: 'hello', data: '{}' });
      while (!stream.aborted && !stream.closed) {
        if (queue.length === 0) {
          // A comment every 15 s keeps proxies from closing an idle stream.
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, 15_000).unref();
          });
          wake = undefined;
          if (queue.length === 0 && !stream.aborted) await stream.write(': keep-alive\n\n');
          continue;
        }
        await stream.writeSSE({ event: 'change', data: queue.shift()! });
      }
      unsubscribe();
    }),
  );

  server.onError((error, c) => {
    // The auth middlewares answer 401 by throwing their response.
    if (error instanceof HTTPException) return error.getResponse();
    // What this broker or backend cannot do (dead letters on Kafka, pausing without a backend): the request's fault, not the server's.
    if (isTqError(error, 'TQ_UNSUPPORTED')) return c.json({ error: error.message }, 409);
    app.logger.error(`dashboard: ${c.req.method} ${c.req.path}: ${error.message}`);
    return c.json({ error: error.message }, 500);
  });
  return server;
}
