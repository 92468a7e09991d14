import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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
  const module = (await importTaskModule(absolute, modulePath)) as { default?: unknown; app?: unknown };
  const app = module.default instanceof App ? module.default : module.app instanceof App ? module.app : undefined;
  if (!app) {
    // Duck-typed fallback: a second copy of @tq/core in the user's tree is still an app.
    const candidate = (module.default ?? module.app) as { worker?: unknown; sendTask?: unknown } | undefined;
    if (candidate && typeof candidate.worker === 'function' && typeof candidate.sendTask === 'function') return candidate as unknown as App;
    throw new ConfigError([{ path: '--app', message: `${modulePath} must export the app: \`export default app\` (where app = createApp(...))` }]);
  }
  return app;
}

/** Imports the task module; a file Node cannot load as it is says why and what to do. */
async function importTaskModule(absolute: string, modulePath: string): Promise<unknown> {
  try {
    return await import(pathToFileURL(absolute).href);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_UNKNOWN_FILE_EXTENSION') {
      throw new ConfigError([
        {
          path: '--app',
          message: `${modulePath}: Node cannot load this file type as it is; compile it first (tsc) and pass the .js file, or run tq under a TypeScript loader: NODE_OPTIONS="--import tsx" npx tq …`,
        },
      ]);
    }
    // An ESM syntax error's message has no file or line: `node --check` prints both, with the code.
    if (error instanceof SyntaxError) throw new ConfigError([{ path: '--app', message: `${modulePath} does not parse:\n${syntaxReport(absolute) ?? error.message}` }]);
    throw error;
  }
}

/** Where the module fails to parse, as `node --check` shows it: "file:line", the line, a caret, the error. */
function syntaxReport(file: string): string | undefined {
  // Checked as an ES module (how it was imported), read from stdin, so the file's extension or
  // package type cannot make --check read it as CommonJS.
  try {
    execFileSync(process.execPath, ['--check', '--input-type=module'], { input: readFileSync(file), stdio: ['pipe', 'ignore', 'pipe'], encoding: 'utf8' });
    return undefined;
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '');
    // Node's own stack after the SyntaxError line is noise.
    const lines = stderr.split('\n');
    const end = lines.findIndex((line) => line.startsWith('SyntaxError'));
    return end >= 0 ? lines.slice(0, end + 1).join('\n').replace(/^\[stdin\]/, file).trim() : undefined;
  }
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
