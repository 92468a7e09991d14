import { parseArgs, type ParseArgsConfig } from 'node:util';
import { takeAdapterFlags } from './adapter-flag.js';
import { redactUrl } from '../adapters/url.js';
import type { App } from '../app.js';
import type { InspectWhat } from '../control/control-client.js';
import type { ControlReply } from '../control/pidbox.js';
import { ConfigError, isTqError, TaskError, TqError } from '../errors.js';
import { receiveEvents } from '../events/task-events.js';
import { readyStates } from '../result/states.js';
import type { Logger, LogLevel } from '../logger.js';
import type { PoolKind } from '../worker/pool/pool.js';
import type { Worker } from '../worker/worker.js';
import { deadHelp, deadOptions, runDead } from './dead.js';
import { beatFlags, beatHelp, beatOptions, runBeat } from './beat-command.js';
import { printResultTree, runCanvasCall } from './canvas-commands.js';
import { bridgedIfMemory, loadApp, serveIfMemory } from './load-app.js';
import { queueHelp, queueOptions, runQueue } from './queue.js';
import { expandHostname } from './hostname.js';
import { progressBar, StatusLine } from './status-line.js';
import { commandHint, flagHint } from './suggest.js';

const usage = `tq — a distributed task queue, wire-compatible with Celery

Usage:
  tq worker --app ./tasks.js [--broker URL] [--backend URL] [--queues a,b] [--concurrency N]
  tq call NAME [--args JSON] [--kwargs JSON] [--queue Q] [--countdown S] [--eta ISO]
               [--expires S] [--priority N] [--wait [--timeout S]]
  tq call --canvas FILE.json [--wait [--timeout S]]
  tq result ID [--wait [--timeout S]] [--tree]
  tq purge [--queue Q] --force
  tq control revoke ID [ID…] [--terminate [--signal NAME]] | rate_limit TASK RATE | time_limit TASK SOFT HARD
             | enable_events | disable_events | heartbeat | shutdown   [-d WORKER,…] [--timeout S]
  tq inspect active|reserved|scheduled|registered|stats|active_queues|revoked|conf|query_task ID…
             [-d WORKER,…] [--timeout S]
  tq ping [-d WORKER,…] [--timeout S]
  tq queues [-Q a,b] [--watch]
  tq queue pause|resume|status NAME… | scheduled NAME… [--limit N] [--json]
  tq dead list|show ID|replay [ID…]|purge [ID…] [--queue Q] [--task NAME] [--since WHEN]
  tq events
  tq beat --app ./tasks.js | tq beat list|add|update|remove|pause|resume …
  tq dashboard --app ./tasks.js [--port 5555] [--host 127.0.0.1] [--db FILE] [--token T]

Every command takes --broker URL and --backend URL (or TQ_BROKER_URL / TQ_RESULT_BACKEND,
or a tq.config.json in the current directory), --app ./tasks.js to load an app's config, and
--adapter PKG (repeatable; or TQ_ADAPTERS, or "adapters" in tq.config.json) to load a
third-party adapter package by name.
Run "tq COMMAND --help" for a command's options.`;

const common = {
  app: { type: 'string' },
  broker: { type: 'string' },
  backend: { type: 'string' },
  loglevel: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const commands = {
  worker: {
    help: `tq worker --app ./tasks.js [options]

Consume queues and run the app's tasks until SIGTERM/SIGINT (a second signal stops at once and
returns unfinished tasks to the queue).
  --app FILE          module exporting the app (export default app)          (required)
  --queues a,b        queues to consume (default: the app's defaultQueue, "celery")
  --concurrency N     tasks run at once (default: number of CPUs)
  --prefetch-multiplier N      reserve up to concurrency × N messages per queue, running ones
                               included (default 4, as Celery); higher is faster for short tasks
  -n, --hostname NAME the worker's node name (default PID@host); %h host, %n host name part,
                      %d domain part, as Celery: -n worker1@%h
  --pool KIND         async (default) | threads | processes
  --max-tasks-per-child N      replace a thread/process executor after N tasks
  --max-memory-per-child MB    replace a thread/process executor past MB of memory
  -E, --events        publish Celery-format task and worker events
  --metrics-port N    serve /metrics (Prometheus), /healthz and /readyz on port N (needs @tq/observability)
  --metrics-host H    address for those endpoints (default 0.0.0.0)
  --log-format F      text (default) | json: one JSON object a line with task id, name and worker
                      (needs @tq/observability)
  --beat              also run the periodic scheduler (see tq beat --help; --namespace, --lease)
  --shutdown-timeout S         on the first SIGTERM/SIGINT, wait at most S seconds for running
                               tasks, then return them to the queue (default: wait)
  --result-retry-limit S       retry a task's outcome record for at most S seconds while its
                               message is held, then return the message (default 300)
  --consumer-stall S           restart a queue's consumer that got no delivery for S seconds
                               while its queue held ready messages (default 60; 0 turns it off)
  --v8-pretenuring    leave V8's allocation-site pretenuring on (the worker turns it off: faster,
                      less memory; docs/benchmarks.md, "Pretenuring")
  --v8-default-tier-up         leave V8's tier-up at its default pace (the worker makes it eager:
                               full speed after thousands of tasks, not tens of thousands)
  --broker URL        broker (overrides the app's config)
  --backend URL       result backend (overrides the app's config; "none" disables)
  --loglevel LEVEL    debug | info | warn | error (default info)`,
    options: {
      ...common,
      queues: { type: 'string', short: 'Q' },
      hostname: { type: 'string', short: 'n' },
      concurrency: { type: 'string', short: 'c' },
      'prefetch-multiplier': { type: 'string' },
      pool: { type: 'string', short: 'P' },
      'max-tasks-per-child': { type: 'string' },
      'max-memory-per-child': { type: 'string' },
      'shutdown-timeout': { type: 'string' },
      'result-retry-limit': { type: 'string' },
      'consumer-stall': { type: 'string' },
      'v8-pretenuring': { type: 'boolean' },
      'v8-default-tier-up': { type: 'boolean' },
      events: { type: 'boolean', short: 'E' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      'log-format': { type: 'string' },
      beat: { type: 'boolean', short: 'B' },
      ...beatOptions,
    },
  },
  beat: { help: beatHelp, options: { ...common, ...beatOptions } },
  call: {
    help: `tq call NAME [options]

Send task NAME by name and print its id; with --wait, show its state live and print the result
as JSON (exit 1 if it failed, with the remote traceback on stderr).
  --args JSON         positional arguments, a JSON array (default [])
  --kwargs JSON       keyword arguments, a JSON object (default {})
  --queue Q           queue (default: routes, then "celery")
  --countdown S       run no earlier than S seconds from now
  --eta ISO           run no earlier than this time
  --expires S         revoke if not started within S seconds
  --priority N        0..9, higher first
  --wait              wait for the result
  --timeout S         give up waiting after S seconds (exit 1)
  --canvas FILE       send a workflow instead: a Celery signature dict (chain, group, chord…) as JSON;
                      with --wait, print each step's state as it changes (docs/workflows.md)`,
    options: {
      ...common,
      canvas: { type: 'string' },
      args: { type: 'string' },
      kwargs: { type: 'string' },
      queue: { type: 'string', short: 'Q' },
      countdown: { type: 'string' },
      eta: { type: 'string' },
      expires: { type: 'string' },
      priority: { type: 'string' },
      wait: { type: 'boolean', short: 'w' },
      timeout: { type: 'string' },
    },
  },
  result: {
    help: `tq result ID [--wait [--timeout S]] [--tree]

Print a task's state and result as JSON (PENDING when the backend knows nothing of it).
  --tree              print the task and every task it applied (chain steps, callbacks, chord bodies)`,
    options: { ...common, wait: { type: 'boolean', short: 'w' }, timeout: { type: 'string' }, tree: { type: 'boolean' } },
  },
  purge: {
    help: `tq purge [--queue Q] --force

Delete every waiting message in a queue (default "celery"), and its countdown/ETA messages waiting
in the broker where the broker can (Redis, Postgres, NATS, memory://; not RabbitMQ's shared delay
queues nor Kafka's delay topics: those arrive when due). Running tasks are not touched.`,
    options: { ...common, queue: { type: 'string', short: 'Q' }, force: { type: 'boolean', short: 'f' } },
  },
  control: {
    help: `tq control COMMAND [ARGS] [-d WORKER,…] [--timeout S]

Celery's remote control (its pidbox), so it reaches tq and Python Celery workers alike:
  revoke ID [ID…] [--terminate]   skip the tasks when they arrive; --terminate stops running ones
                                  (also recorded as REVOKED in the result backend); --signal KILL
                                  names the signal task-revoked reports (Celery's; default TERM)
  rate_limit TASK RATE            e.g. 10/s, 100/m; 0 removes the limit
  time_limit TASK SOFT HARD       seconds
  add_consumer QUEUE              start consuming QUEUE; cancel_consumer QUEUE stops
  pool_grow [N] | pool_shrink [N] more or fewer executors (the async pool; default 1)
  enable_events | disable_events  turn task events on or off
  heartbeat                       ask for a worker-heartbeat event now
  shutdown                        stop the workers (gracefully)
Prints each worker's answer and exits 1 if none answered or one answered with an error; -d
names the workers to address (default all).`,
    options: { ...common, terminate: { type: 'boolean' }, signal: { type: 'string' }, destination: { type: 'string', short: 'd' }, timeout: { type: 'string' } },
  },
  inspect: {
    help: `tq inspect WHAT [ID…] [-d WORKER,…] [--timeout S] [-Q a,b]

Ask every worker, Python Celery's too (one JSON object per worker that answers within the
timeout, default 1s), in Celery's shapes:
  active       tasks running now              scheduled      countdown/ETA tasks held
  reserved     tasks waiting on a rate limit  registered     task names
  stats        counters, pool, broker, rusage active_queues  queues consumed
  revoked      revoked ids remembered         conf           settings
  query_task ID…  where those tasks are
scheduled also prints, after the workers' answers, one line per queue (-Q, default the app's
default queue) with the countdown/ETA tasks waiting in the broker's delay store, where the
broker can list them: {"broker":{"queue":Q,"scheduled":[{eta,id,task,argsrepr,kwargsrepr}…]}}
(at most 100; "tq queue scheduled Q --limit N" for more).`,
    options: { ...common, destination: { type: 'string', short: 'd' }, timeout: { type: 'string' }, queues: { type: 'string', short: 'Q' } },
  },
  queues: {
    help: `tq queues [-Q a,b] [--watch]

Print each queue's counts as the broker keeps them: ready, delayed (held by the broker for a
countdown/ETA), unacked (delivered, not yet acked), dead (dead letters), consumers, and the age
of the oldest waiting message; "-" where the broker cannot tell. --watch refreshes every
second and adds the change of ready messages per second. Default queue: the app's default.`,
    options: { ...common, queues: { type: 'string', short: 'Q' }, watch: { type: 'boolean', short: 'w' } },
  },
  dead: { help: deadHelp, options: { ...common, ...deadOptions } },
  queue: { help: queueHelp, options: { ...common, ...queueOptions } },
  ping: {
    help: `tq ping [-d WORKER,…] [--timeout S]

Print every worker (tq or Python Celery) that answers within the timeout (default 1s); exit 1
if none does.`,
    options: { ...common, destination: { type: 'string', short: 'd' }, timeout: { type: 'string' } },
  },
  events: {
    help: `tq events

Print task and worker events live (workers must run with -E) until interrupted.`,
    options: { ...common },
  },
  dashboard: {
    help: `tq dashboard --app ./tasks.js [options]

Serve tq's web UI (the @tq/dashboard package): workers, tasks with search and live updates, task
detail with progress, traceback and timeline, and revoke/terminate/retry/purge, queues (pause,
dead letters) and beat's schedules (next runs, pause, resume, remove). Every event is
kept in a SQLite file, so a restart loses no history (workers must run with -E).
  --port N            port (default 5555; 0 picks a free one)
  --host ADDR         address to listen on (default 127.0.0.1); anything else needs auth
  --db FILE           history file (default ./tq-dashboard.sqlite)
  --token T           require "Authorization: Bearer T" (env TQ_DASHBOARD_TOKEN)
  --user U --password P   require basic auth (env TQ_DASHBOARD_USER / TQ_DASHBOARD_PASSWORD)
  --max-tasks N       tasks kept (default 100000; the least recently updated go first)
  --max-age HOURS     tasks and workers kept this long after their last event (default 168)
  --beat-namespace NS the beat namespace the Schedules page shows (default "default", as tq beat)`,
    options: {
      ...common,
      'beat-namespace': { type: 'string' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      db: { type: 'string' },
      token: { type: 'string' },
      user: { type: 'string' },
      password: { type: 'string' },
      'max-tasks': { type: 'string' },
      'max-age': { type: 'string' },
    },
  },
} as const;

type CommandName = keyof typeof commands;

class UsageError extends Error {
  override name = 'UsageError';
}

function parseJson(text: string | undefined, flag: string, kind: 'array' | 'object'): unknown {
  if (text === undefined) return kind === 'array' ? [] : {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${flag} must be JSON (${(error as Error).message}); e.g. ${kind === 'array' ? `--args '[2, 3]'` : `--kwargs '{"x": 1}'`}`);
  }
  const ok = kind === 'array' ? Array.isArray(value) : value !== null && typeof value === 'object' && !Array.isArray(value);
  if (!ok) throw new UsageError(`${flag} must be a JSON ${kind}`);
  return value;
}

function parseNumber(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new UsageError(`${flag} must be a non-negative number, got "${text}"`);
  return value;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = takeAdapterFlags(argv, process.env);
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage}\n`);
    return name ? 0 : 2;
  }
  if (!(name in commands)) {
    process.stderr.write(`tq: unknown command "${name}"${commandHint(name, Object.keys(commands))}\n\n${usage}\n`);
    return 2;
  }
  const command = commands[name as CommandName];
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...rest], options: command.options, allowPositionals: true, strict: true }) as {
      values: Record<string, string | boolean | undefined>;
      positionals: string[];
    });
  } catch (error) {
    process.stderr.write(`tq ${name}: ${(error as Error).message}${flagHint(error, command.options)}\n\n${command.help}\n`);
    return 2;
  }
  if (values['help']) {
    process.stdout.write(`${command.help}\n`);
    return 0;
  }
  // Flags reach the app through the environment, which wins over the app's own config.
  if (typeof values['broker'] === 'string') process.env['TQ_BROKER_URL'] = values['broker'];
  if (typeof values['backend'] === 'string') process.env['TQ_RESULT_BACKEND'] = values['backend'];
  if (typeof values['loglevel'] === 'string') process.env['TQ_LOG_LEVEL'] = values['loglevel'];
  try {
    switch (name as CommandName) {
      case 'worker':
        return await runWorker(values);
      case 'call':
        return await runCall(positionals, values);
      case 'result':
        return await runResult(positionals, values);
      case 'purge':
        return await runPurge(values);
      case 'control':
        return await runControl(positionals, values);
      case 'inspect':
        return await runInspect(positionals, values);
      case 'queues':
        return await runQueues(values);
      case 'queue':
        return await withApp(values, (app) => runQueue(app, positionals, (message) => new UsageError(message), values));
      case 'dead':
        return await withApp(values, (app) => runDead(app, positionals, values, (message) => new UsageError(message)));
      case 'ping':
        return await runPing(values);
      case 'events':
        return await runEvents(values);
      case 'dashboard':
        return await runDashboard(values);
      case 'beat':
        return await runBeat(await loadApp(values['app'] as string | undefined), positionals, values);
    }
  } catch (error) {
    return reportError(name, error);
  }
  return 2;
}

function reportError(command: string, error: unknown): number {
  if (error instanceof UsageError) {
    process.stderr.write(`tq ${command}: ${error.message}\n`);
    return 2;
  }
  if (error instanceof TaskError) {
    process.stderr.write(`${error.traceback ?? ''}\n${error.excType}: ${error.excMessage}\n`);
    return 1;
  }
  if (isTqError(error)) {
    process.stderr.write(`tq ${command}: ${error.message} [${error.code}]\n`);
    return isTqError(error, 'TQ_CONFIG_INVALID') || isTqError(error, 'TQ_UNKNOWN_SCHEME') || isTqError(error, 'TQ_ADAPTER_NOT_INSTALLED') ? 2 : 1;
  }
  process.stderr.write(`tq ${command}: ${(error as Error)?.stack ?? String(error)}\n`);
  return 1;
}

async function runWorker(values: Record<string, string | boolean | undefined>): Promise<number> {
  if (typeof values['app'] !== 'string') throw new UsageError('--app is required: the module that exports your app, e.g. tq worker --app ./tasks.js');
  const app = await loadApp(values['app']);
  const queues = typeof values['queues'] === 'string' ? values['queues'].split(',').map((q) => q.trim()).filter(Boolean) : undefined;
  const concurrency = parseNumber(values['concurrency'] as string | undefined, '--concurrency');
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) throw new UsageError('--concurrency must be a positive integer');
  const prefetchMultiplier = parseNumber(values['prefetch-multiplier'] as string | undefined, '--prefetch-multiplier');
  if (prefetchMultiplier !== undefined && (!Number.isInteger(prefetchMultiplier) || prefetchMultiplier < 1)) throw new UsageError('--prefetch-multiplier must be a positive integer');
  const pool = values['pool'] as string | undefined;
  if (pool !== undefined && !['async', 'threads', 'processes'].includes(pool)) throw new UsageError(`--pool must be async, threads or processes, got "${pool}"`);
  const maxTasksPerChild = parseNumber(values['max-tasks-per-child'] as string | undefined, '--max-tasks-per-child');
  const maxMemoryPerChildMb = parseNumber(values['max-memory-per-child'] as string | undefined, '--max-memory-per-child');
  const metricsPort = parseNumber(values['metrics-port'] as string | undefined, '--metrics-port');
  const logFormat = (values['log-format'] as string | undefined) ?? process.env['TQ_LOG_FORMAT'] ?? 'text';
  if (logFormat !== 'text' && logFormat !== 'json') throw new UsageError(`--log-format must be text or json, got "${logFormat}"`);
  const observability = metricsPort !== undefined || logFormat === 'json' ? await importObservability() : undefined;
  const hostname = typeof values['hostname'] === 'string' ? expandHostname(values['hostname']) : `${process.pid}@${app.config.hostname}`;
  if (!hostname.trim()) throw new UsageError('--hostname must not be empty');
  if (logFormat === 'json') app.useLogger(observability!.createJsonLogger({ level: app.config.logLevel, bindings: { worker: hostname } }));
  const shutdownTimeout = parseNumber(values['shutdown-timeout'] as string | undefined, '--shutdown-timeout');
  const resultRetryLimit = parseNumber(values['result-retry-limit'] as string | undefined, '--result-retry-limit');
  const consumerStall = parseNumber(values['consumer-stall'] as string | undefined, '--consumer-stall');
  const worker = app.worker({
    hostname,
    ...(queues ? { queues } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(prefetchMultiplier !== undefined ? { prefetchMultiplier } : {}),
    ...(pool ? { pool: pool as PoolKind, appModule: values['app'] as string } : {}),
    ...(maxTasksPerChild !== undefined ? { maxTasksPerChild } : {}),
    ...(maxMemoryPerChildMb !== undefined ? { maxMemoryPerChildMb } : {}),
    ...(shutdownTimeout !== undefined ? { shutdownTimeoutMs: shutdownTimeout * 1000 } : {}),
    ...(resultRetryLimit !== undefined ? { resultRetry: { limitMs: resultRetryLimit * 1000 } } : {}),
    ...(consumerStall !== undefined ? { consumerStallMs: consumerStall * 1000 } : {}),
    events: Boolean(values['events']),
    v8Pretenuring: Boolean(values['v8-pretenuring']),
    v8DefaultTierUp: Boolean(values['v8-default-tier-up']),
  });
  const task = (e: { id: string; name: string }) => ({ task_id: e.id, task: e.name });
  worker.on('task-received', (e) => app.logger.info(`received ${e.name}[${e.id}]${e.eta ? ` eta ${e.eta.toISOString()}` : ''}`, task(e)));
  worker.on('task-succeeded', (e) => app.logger.info(`succeeded ${e.name}[${e.id}] in ${e.runtimeMs.toFixed(1)} ms: ${preview(e.result)}`, { ...task(e), runtime_ms: e.runtimeMs }));
  worker.on('task-retried', (e) => app.logger.info(`retry ${e.name}[${e.id}] in ${e.countdown}s (retry ${e.retries})`, task(e)));
  worker.on('task-failed', (e) => app.logger.info(`failed ${e.name}[${e.id}]`, { ...task(e), runtime_ms: e.runtimeMs }));
  worker.on('task-revoked', (e) => app.logger.info(`revoked ${e.name}[${e.id}]: ${e.reason}`, task(e)));
  app.logger.info(`broker ${describeTarget(app.config.broker)}, results ${describeTarget(app.config.resultBackend)}`);
  const health =
    metricsPort !== undefined ? await observability!.HealthServer.start(worker, { port: metricsPort, ...(typeof values['metrics-host'] === 'string' ? { host: values['metrics-host'] } : {}) }) : undefined;
  if (health) app.logger.info(`metrics on :${health.port}/metrics, health on /healthz and /readyz`);
  // Served before consuming: a second worker on the same memory:// fails before it says "consuming".
  const closeBridge = await serveIfMemory(app);
  try {
    await worker.start();
  } catch (error) {
    await closeBridge?.();
    throw error;
  }
  const beat = values['beat'] ? app.beat(beatFlags(values)) : undefined;
  await beat?.start();
  // Stopped by a signal or by remote control (`celery control shutdown`): every stop ends with
  // worker-offline, and then the process ends.
  const finished = new Promise<void>((resolve) => worker.once('worker-offline', () => resolve()));
  worker.installSignalHandlers();
  await finished;
  await beat?.stop();
  await closeBridge?.();
  await health?.close();
  await app.close();
  return 0;
}

/** What the worker command uses of @tq/observability (typed here: core must not depend on it). */
interface Observability {
  createJsonLogger(options: { level: LogLevel; bindings: Record<string, unknown> }): Logger;
  HealthServer: { start(worker: Worker, options: { port: number; host?: string }): Promise<{ readonly port: number; close(): Promise<void> }> };
}

/** @tq/observability, loaded only when asked for. */
async function importObservability(): Promise<Observability> {
  const name = '@tq/observability'; // a variable: TypeScript must not resolve the package from core
  try {
    return (await import(name)) as Observability;
  } catch (cause) {
    throw new ConfigError([{ path: '--metrics-port/--log-format', message: 'needs the @tq/observability package: npm install @tq/observability' }], { cause });
  }
}

function describeTarget(target: unknown): string {
  if (target === null) return 'disabled';
  return typeof target === 'string' ? redactUrl(target) : 'a custom instance';
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

async function runCall(positionals: string[], values: Record<string, string | boolean | undefined>): Promise<number> {
  const [taskName] = positionals;
  if (typeof values['canvas'] === 'string') return runCanvasCallCommand(values['canvas'], values);
  if (!taskName) throw new UsageError('the task name is required, e.g. tq call tq.add --args "[2, 3]" --wait');
  const args = parseJson(values['args'] as string | undefined, '--args', 'array') as unknown[];
  const kwargs = parseJson(values['kwargs'] as string | undefined, '--kwargs', 'object') as Record<string, unknown>;
  const countdown = parseNumber(values['countdown'] as string | undefined, '--countdown');
  const expires = parseNumber(values['expires'] as string | undefined, '--expires');
  const priority = parseNumber(values['priority'] as string | undefined, '--priority');
  const timeout = parseNumber(values['timeout'] as string | undefined, '--timeout');
  const eta = values['eta'] as string | undefined;
  if (eta !== undefined && Number.isNaN(new Date(eta).getTime())) throw new UsageError(`--eta must be an ISO 8601 time, got "${eta}"`);
  const app = bridgedIfMemory(await loadApp(values['app'] as string | undefined));
  try {
    const result = await app.sendTask(taskName, args, kwargs, {
      ...(typeof values['queue'] === 'string' ? { queue: values['queue'] } : {}),
      ...(countdown !== undefined ? { countdown } : {}),
      ...(eta !== undefined ? { eta } : {}),
      ...(expires !== undefined ? { expires } : {}),
      ...(priority !== undefined ? { priority } : {}),
    });
    process.stdout.write(`${result.id}\n`);
    if (!values['wait']) return 0;
    return await waitAndPrint(app, result.id, timeout, app.queueFor(taskName, typeof values['queue'] === 'string' ? values['queue'] : undefined));
  } finally {
    await app.close();
  }
}

async function runCanvasCallCommand(file: string, values: Record<string, string | boolean | undefined>): Promise<number> {
  const timeoutSeconds = parseNumber(values['timeout'] as string | undefined, '--timeout');
  const app = bridgedIfMemory(await loadApp(values['app'] as string | undefined));
  try {
    return await runCanvasCall(app, file, { wait: values['wait'] === true, timeoutSeconds });
  } finally {
    await app.close();
  }
}

/** After this long still PENDING, `tq call --wait` says what may be wrong (nothing consumes the queue). */
const pendingHintMs = 10_000;

async function waitAndPrint(app: App, id: string, timeoutSeconds: number | undefined, queue?: string): Promise<number> {
  const result = app.asyncResult(id);
  const status = new StatusLine();
  status.update(`${id} PENDING`);
  let started = false;
  const hint = setTimeout(() => {
    if (started) return;
    status.done();
    process.stderr.write(
      `tq call: still PENDING after ${pendingHintMs / 1000}s: no worker has started it. Is one consuming ${queue ? `queue "${queue}"` : 'its queue'} on this broker? ` +
        `(tq queues${queue ? ` -Q ${queue}` : ''} shows its consumers; Ctrl-C stops waiting, the task stays queued)\n`,
    );
    status.update(`${id} PENDING`);
  }, pendingHintMs);
  hint.unref();
  try {
    for await (const record of result.updates(timeoutSeconds !== undefined ? { timeout: timeoutSeconds * 1000 } : {})) {
      if (record.status !== 'PENDING') started = true;
      const bar = readyStates.has(record.status) ? undefined : progressBar(record.result);
      status.update(`${id} ${record.status}${bar ? ` ${bar}` : ''}`);
    }
    status.done();
    const value = await result.get({ timeout: 1000 });
    process.stdout.write(`${JSON.stringify(value) ?? 'null'}\n`);
    return 0;
  } catch (error) {
    status.done();
    if (isTqError(error, 'TQ_RESULT_TIMEOUT')) {
      process.stderr.write(`tq call: no result within ${timeoutSeconds}s; the task may still run: check later with "tq result ${id}"\n`);
      return 1;
    }
    throw error;
  } finally {
    clearTimeout(hint);
  }
}

async function runResult(positionals: string[], values: Record<string, string | boolean | undefined>): Promise<number> {
  const [id] = positionals;
  if (!id) throw new UsageError('the task id is required: tq result ID');
  const timeout = parseNumber(values['timeout'] as string | undefined, '--timeout');
  const app = bridgedIfMemory(await loadApp(values['app'] as string | undefined));
  try {
    if (values['wait']) return await waitAndPrint(app, id, timeout);
    if (values['tree']) return (await printResultTree(app, id), 0);
    const record = await app.asyncResult(id).record();
    process.stdout.write(`${JSON.stringify(record ?? { status: 'PENDING', result: null, task_id: id }, null, 2)}\n`);
    return record?.status === 'FAILURE' ? 1 : 0;
  } finally {
    await app.close();
  }
}

async function runPurge(values: Record<string, string | boolean | undefined>): Promise<number> {
  const app = bridgedIfMemory(await loadApp(values['app'] as string | undefined));
  try {
    const queue = typeof values['queue'] === 'string' ? values['queue'] : app.config.defaultQueue;
    if (!values['force']) throw new UsageError(`this deletes every waiting message in "${queue}"; run again with --force to do it`);
    const removed = await app.purge(queue);
    process.stdout.write(`purged ${removed} message(s) from ${queue}\n`);
    const { capabilities } = await app.broker();
    if (capabilities.delayedDelivery && !capabilities.purgeDelayed) {
      process.stderr.write(`countdown/ETA messages of ${queue} that the broker holds were not removed (capabilities.purgeDelayed): they arrive when due\n`);
    }
    return 0;
  } finally {
    await app.close();
  }
}

/** Common remote-control flags: -d/--destination and --timeout (seconds, default 1). */
function controlOptions(values: Record<string, string | boolean | undefined>): { timeoutMs: number; destination?: string[] } {
  const timeout = parseNumber(values['timeout'] as string | undefined, '--timeout') ?? 1;
  const destination = typeof values['destination'] === 'string' ? values['destination'].split(',').map((d) => d.trim()).filter(Boolean) : undefined;
  return { timeoutMs: timeout * 1000, ...(destination?.length ? { destination } : {}) };
}

/** Prints each worker's answer; exits 1 when none answered or any answered with an error (Celery's {"error": …}). */
function printReplies(replies: readonly ControlReply[], timeoutMs: number): number {
  for (const reply of replies) process.stdout.write(`${JSON.stringify({ [reply.hostname]: reply.result })}\n`);
  if (replies.length === 0) process.stderr.write(`no worker answered within ${timeoutMs / 1000}s: is one running on this broker?\n`);
  const refused = replies.filter((reply) => reply.result !== null && typeof reply.result === 'object' && 'error' in reply.result);
  if (refused.length > 0) process.stderr.write(`${refused.length} worker(s) answered with an error\n`);
  return replies.length > 0 && refused.length === 0 ? 0 : 1;
}

const controlCommands = [
  'revoke',
  'rate_limit',
  'time_limit',
  'add_consumer',
  'cancel_consumer',
  'pool_grow',
  'pool_shrink',
  'enable_events',
  'disable_events',
  'heartbeat',
  'shutdown',
] as const;

async function runControl(positionals: string[], values: Record<string, string | boolean | undefined>): Promise<number> {
  const [action, ...args] = positionals;
  if (!action || !(controlCommands as readonly string[]).includes(action)) throw new UsageError(`usage: tq control ${controlCommands.join('|')} …`);
  const options = controlOptions(values);
  const app = bridgedIfMemory(await loadApp(values['app'] as string | undefined));
  try {
    if (action === 'revoke') {
      if (args.length === 0) throw new UsageError('name at least one task id: tq control revoke ID');
      await app.control.revoke(args, { terminate: Boolean(values['terminate']), ...(typeof values['signal'] === 'string' ? { signal: values['signal'] } : {}) });
      process.stdout.write(`revoked ${args.join(', ')}${values['terminate'] ? ' (terminate)' : ''}\n`);
      return 0;
    }
    let request: Record<string, unknown> = {};
    if (action === 'rate_limit') {
      if (args.length !== 2) throw new UsageError('usage: tq control rate_limit TASK RATE (e.g. 10/s; 0 removes it)');
      request = { task_name: args[0], rate_limit: args[1] };
    } else if (action === 'time_limit') {
      if (args.length !== 3) throw new UsageError('usage: tq control time_limit TASK SOFT HARD (seconds)');
      request = { task_name: args[0], soft: parseNumber(args[1], 'SOFT'), hard: parseNumber(args[2], 'HARD') };
    } else if (action === 'add_consumer' || action === 'cancel_consumer') {
      if (args.length !== 1) throw new UsageError(`usage: tq control ${action} QUEUE`);
      request = { queue: args[0] };
    } else if (action === 'pool_grow' || action === 'pool_shrink') {
      if (args.length > 1) throw new UsageError(`usage: tq control ${action} [N] (default 1)`);
      request = { n: args[0] === undefined ? 1 : parseNumber(args[0], 'N') };
    }
    if (action === 'shutdown') {
      // As Celery's: a worker does not answer a shutdown, it stops.
      await app.control.broadcast(action, request, { ...options, reply: false });
      process.stdout.write(`shutdown sent to ${options.destination?.join(', ') ?? 'every worker'}\n`);
      return 0;
    }
    const replies = await app.control.broadcast(action, request, options);
    return printReplies(replies, options.timeoutMs);
  } finally {
    await app.close();
  }
}

const inspectTargets = ['active', 'reserved', 'scheduled', 'registered', 'stats', 'active_queues', 'revoked', 'conf', 'query_task', 'clock'] as const;

async function runInspect(positionals: string[], values: Record<string, string | boolean | undefined>): Promise<number> {
  const [what, ...ids] = positionals;
  if (!what || !(inspectTargets as readonly string[]).includes(what)) throw new UsageError(`usage: tq inspect ${inspectTargets.join('|')}`);
  const options = controlOptions(values);
  const app = bridgedIfMemory(await loadApp(values['app'] as string | undefined));
  try {
    if (what === 'query_task' && ids.length === 0) throw new UsageError('name at least one task id: tq inspect query_task ID [ID…]');
    const replies = await app.control.inspect(what as InspectWhat, { ...options, ...(what === 'query_task' ? { arguments: { ids } } : {}) });
    if (what !== 'scheduled') return printReplies(replies, options.timeoutMs);
    // Workers report only what they hold (Celery's reply, unchanged); the rest waits in the broker.
    const queues = typeof values['queues'] === 'string' ? values['queues'].split(',').map((q) => q.trim()).filter(Boolean) : [app.config.defaultQueue];
    for (const reply of replies) process.stdout.write(`${JSON.stringify({ [reply.hostname]: reply.result })}\n`);
    if (replies.length === 0) process.stderr.write(`no worker answered within ${options.timeoutMs / 1000}s\n`);
    const listed = await printBrokerScheduled(app, queues);
    return replies.length || listed ? 0 : 1;
  } finally {
    await app.close();
  }
}

/** The broker's half of `tq inspect scheduled`: one line per queue; false when the broker cannot list them. */
async function printBrokerScheduled(app: App, queues: readonly string[]): Promise<boolean> {
  const broker = await app.broker();
  if (!broker.capabilities.listDelayed) {
    if (broker.capabilities.delayedDelivery) process.stderr.write('this broker holds countdown/ETA tasks it cannot list (capabilities.listDelayed): only those workers hold are shown\n');
    return false;
  }
  for (const queue of queues) {
    const scheduled = (await app.queues.scheduled(queue)).map(({ eta, id, task, argsrepr, kwargsrepr }) => ({ eta, id, task, argsrepr, kwargsrepr }));
    process.stdout.write(`${JSON.stringify({ broker: { queue, scheduled } })}\n`);
  }
  return true;
}

async function runQueues(values: Record<string, string | boolean | undefined>): Promise<number> {
  const app = bridgedIfMemory(await loadApp(values['app'] as string | undefined));
  const queues = typeof values['queues'] === 'string' ? values['queues'].split(',').map((q) => q.trim()).filter(Boolean) : [app.config.defaultQueue];
  const cell = (value: number | null) => (value === null ? '-' : String(value));
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  try {
    let previous: Map<string, number> | undefined;
    for (;;) {
      const rows = await Promise.all(queues.map(async (queue) => [queue, await app.queueStats(queue)] as const));
      const lines = [['queue', 'ready', 'delayed', 'unacked', 'dead', 'consumers', 'oldest', ...(previous ? ['ready/s'] : [])]];
      for (const [queue, stats] of rows) {
        const rate = previous ? [String(stats.ready - (previous.get(queue) ?? stats.ready))] : [];
        const oldest = stats.oldestAgeMs === undefined || stats.oldestAgeMs === null ? '-' : formatAge(stats.oldestAgeMs);
        lines.push([queue, cell(stats.ready), cell(stats.delayed ?? null), cell(stats.unacked), cell(stats.dead), cell(stats.consumers), oldest, ...rate]);
      }
      const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
      const table = lines.map((l) => l.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
      if (!values['watch']) {
        process.stdout.write(`${table}\n`);
        return 0;
      }
      process.stdout.write(`\x1b[2J\x1b[H${table}\n(refreshing every second; Ctrl-C to stop)\n`);
      previous = new Map(rows.map(([queue, stats]) => [queue, stats.ready]));
      await new Promise((resolve) => setTimeout(resolve, 1000));
      if (stop.signal.aborted) return 0;
    }
  } finally {
    await app.close();
  }
}

async function withApp(values: Record<string, string | boolean | undefined>, run: (app: App) => Promise<number>): Promise<number> {
  const app = bridgedIfMemory(await loadApp(values['app'] as string | undefined));
  try {
    return await run(app);
  } finally {
    await app.close();
  }
}

/** 950 ms → "0.9s", 95 s → "95s", 2 h → "120m". */
function formatAge(ms: number): string {
  if (ms < 10_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`;
  if (ms < 600_000) return `${Math.floor(ms / 1000)}s`;
  return `${Math.floor(ms / 60_000)}m`;
}

async function runPing(values: Record<string, string | boolean | undefined>): Promise<number> {
  const options = controlOptions(values);
  const app = bridgedIfMemory(await loadApp(values['app'] as string | undefined));
  try {
    const replies = await app.control.ping(options);
    for (const reply of replies) process.stdout.write(`${reply.hostname}: ${JSON.stringify(reply.result)}\n`);
    if (replies.length === 0) process.stderr.write(`no worker answered within ${options.timeoutMs / 1000}s: is one running on this broker?\n`);
    return replies.length ? 0 : 1;
  } finally {
    await app.close();
  }
}

async function runEvents(values: Record<string, string | boolean | undefined>): Promise<number> {
  const app = bridgedIfMemory(await loadApp(values['app'] as string | undefined));
  const bus = await app.broadcastBus();
  if (!bus) {
    process.stderr.write('tq events: neither the broker nor the result backend has a broadcast channel; use a redis result backend (resultBackend: redis://…) to carry events\n');
    await app.close();
    return 1;
  }
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.stderr.write(`listening for events on the ${bus.via} (workers need -E); Ctrl-C to stop\n`);
  try {
    for await (const event of receiveEvents(bus, controller.signal)) {
      const time = new Date(event.timestamp * 1000).toISOString().slice(11, 23);
      const task = typeof event['uuid'] === 'string' ? ` ${event['name'] ?? ''}[${event['uuid']}]` : '';
      const extra = event['exception'] ?? event['result'] ?? '';
      process.stdout.write(`${time} ${event.hostname} ${event.type}${task} ${extra}`.trimEnd() + '\n');
    }
  } finally {
    await app.close();
  }
  return 0;
}

/** The part of @tq/dashboard the CLI uses: core does not depend on it, it is loaded on demand. */
interface DashboardModule {
  startDashboard(options: Record<string, unknown> & { app: App }): Promise<{ url: string; close(): Promise<void> }>;
}

async function loadDashboard(load: (name: string) => Promise<unknown> = (name) => import(name)): Promise<DashboardModule> {
  try {
    return (await load('@tq/dashboard')) as DashboardModule;
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String((cause as Error).message).includes('@tq/dashboard')) {
      throw new TqError('TQ_ADAPTER_NOT_INSTALLED', 'the dashboard is a separate package: install @tq/dashboard (npm install @tq/dashboard)', { cause });
    }
    throw cause;
  }
}

async function runDashboard(values: Record<string, string | boolean | undefined>): Promise<number> {
  const port = parseNumber(values['port'] as string | undefined, '--port');
  const maxTasks = parseNumber(values['max-tasks'] as string | undefined, '--max-tasks');
  const maxAgeHours = parseNumber(values['max-age'] as string | undefined, '--max-age');
  const dashboardModule = await loadDashboard();
  const app = bridgedIfMemory(await loadApp(values['app'] as string | undefined));
  const str = (key: string) => (typeof values[key] === 'string' ? { [key]: values[key] } : {});
  let dashboard: { url: string; close(): Promise<void> };
  try {
    dashboard = await dashboardModule.startDashboard({
      app,
      ...(port !== undefined ? { port } : {}),
      ...(maxTasks !== undefined ? { maxTasks } : {}),
      ...(maxAgeHours !== undefined ? { maxAgeMs: maxAgeHours * 3600_000 } : {}),
      ...str('host'),
      ...str('db'),
      ...str('token'),
      ...str('user'),
      ...str('password'),
      ...(typeof values['beat-namespace'] === 'string' ? { beatNamespace: values['beat-namespace'] } : {}),
    });
  } catch (error) {
    await app.close();
    throw error;
  }
  process.stderr.write(`tq dashboard on ${dashboard.url} (workers need -E); Ctrl-C to stop\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await dashboard.close();
  await app.close();
  return 0;
}
