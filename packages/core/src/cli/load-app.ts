import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, createApp } from '../app.js';
import { ConfigError } from '../errors.js';
import { BridgeBroker, BridgeClient, BridgeResultBackend, serveBridge } from '../memory/bridge.js';

/**
 * Imports a task module and returns its app: the default export, or an export named `app`.
 * Without a module, an app made from the shared config (tq.config.json / environment).
 */
export async function loadApp(modulePath: string | undefined): Promise<App> {
  if (!modulePath) return createApp();
  const absolute = resolve(modulePath);
  if (!existsSync(absolute)) {
    throw new ConfigError([{ path: '--app', message: `no such file: ${absolute} (pass the module that exports your app, e.g. --app ./tasks.js)` }]);
  }
  const module = (await import(pathToFileURL(absolute).href)) as { default?: unknown; app?: unknown };
  const app = module.default instanceof App ? module.default : module.app instanceof App ? module.app : undefined;
  if (!app) {
    // Duck-typed fallback: a second copy of @tq/core in the user's tree is still an app.
    const candidate = (module.default ?? module.app) as { worker?: unknown; sendTask?: unknown } | undefined;
    if (candidate && typeof candidate.worker === 'function' && typeof candidate.sendTask === 'function') return candidate as unknown as App;
    throw new ConfigError([{ path: '--app', message: `${modulePath} must export the app: \`export default app\` (where app = createApp(...))` }]);
  }
  return app;
}

function memoryUrl(target: unknown): string | undefined {
  return typeof target === 'string' && target.startsWith('memory:') ? target : undefined;
}

/**
 * For commands run beside a `tq worker` on memory://: an app that reaches that worker's broker
 * and results through the bridge socket. Any other app is returned unchanged.
 */
export function bridgedIfMemory(app: App): App {
  const url = memoryUrl(app.config.broker);
  if (!url) return app;
  const client = new BridgeClient(url);
  // The bridge objects must win: TQ_BROKER_URL (set by --broker too) would otherwise replace them
  // with a memory:// broker of this process's own, and what it sends would reach no worker.
  const env = { ...process.env };
  delete env['TQ_BROKER_URL'];
  delete env['TQ_RESULT_BACKEND'];
  const bridged = new App({
    broker: new BridgeBroker(client),
    resultBackend: memoryUrl(app.config.resultBackend) ? new BridgeResultBackend(client) : app.config.resultBackend,
    defaultQueue: app.config.defaultQueue,
    routes: app.config.routes,
    serializer: app.config.serializer,
    serializers: app.config.serializers,
    accept: app.config.accept,
    logger: app.logger,
  }, { env });
  // The bridged app has its own built-ins (celery.*), bound to it: only the user's tasks are copied.
  for (const task of app.tasks.values()) if (!bridged.tasks.has(task.name)) bridged.task(task.name, task.fn, task.options);
  for (const [name, definition] of app.schedules) bridged.schedule(name, definition);
  return bridged;
}

/** In `tq worker`: serve a memory:// app's broker and results to other local `tq` commands. */
export async function serveIfMemory(app: App): Promise<(() => Promise<void>) | undefined> {
  const url = memoryUrl(app.config.broker);
  if (!url) return undefined;
  const backend = await app.backend();
  return serveBridge(url, await app.broker(), backend);
}
