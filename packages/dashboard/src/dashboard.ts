import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { ConfigError, type App } from '@tq/core';
import { resolveAuth, type AuthOptions } from './auth.js';
import { EventSink } from './event-sink.js';
import { HistoryStore, type RetentionOptions } from './history-store.js';
import { LiveFeed } from './live-feed.js';
import { addScheduleRoutes } from './schedule-routes.js';
import { createServer } from './server.js';

export interface DashboardOptions extends AuthOptions, RetentionOptions {
  readonly app: App;
  /** Port to listen on; 0 picks a free one. Default 5555 (Flower's). */
  readonly port?: number;
  /** Address to listen on. Default 127.0.0.1; anything else needs auth. */
  readonly host?: string;
  /** SQLite file of the history. Default ./tq-dashboard.sqlite. */
  readonly db?: string;
  /** How often retention runs. Default every 60 s. */
  readonly pruneIntervalMs?: number;
  /** The beat namespace whose schedules the Schedules page shows. Default 'default' (tq beat's). */
  readonly beatNamespace?: string;
}

export interface Dashboard {
  /** Where it listens, e.g. http://127.0.0.1:5555/ */
  readonly url: string;
  readonly port: number;
  readonly store: HistoryStore;
  /** Stops listening and the event subscription and closes the database (the app stays open). */
  close(): Promise<void>;
}

/** Starts the dashboard: history from the app's events, the HTTP server, retention. */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const host = options.host ?? '127.0.0.1';
  const auth = resolveAuth(options, host);
  const store = new HistoryStore(options.db ?? './tq-dashboard.sqlite', options);
  const feed = new LiveFeed();
  const sink = new EventSink(options.app, store, feed);
  store.prune();
  const pruner = setInterval(() => store.prune(), options.pruneIntervalMs ?? 60_000);
  pruner.unref();
  sink.start();
  const server = createServer({ app: options.app, store, feed, auth });
  const schedules = addScheduleRoutes(server, options.app, options.beatNamespace ?? 'default');
  let httpServer: Server;
  try {
    httpServer = await new Promise<Server>((resolve, reject) => {
      const s = serve({ fetch: server.fetch, port: options.port ?? 5555, hostname: host }) as Server;
      s.once('listening', () => resolve(s));
      s.once('error', reject);
    });
  } catch (error) {
    clearInterval(pruner);
    await sink.close();
    await schedules.close();
    store.close();
    if ((error as { code?: unknown }).code === 'EADDRINUSE') {
      throw new ConfigError([{ path: 'port', message: `port ${options.port ?? 5555} on ${host} is already in use (Flower's default is 5555 too): pick another with --port` }], { cause: error });
    }
    throw error;
  }
  const port = (httpServer.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/`,
    port,
    store,
    async close() {
      clearInterval(pruner);
      await sink.close();
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      await schedules.close();
      store.close();
    },
  };
}
