/**
 * An executor: the entry point of each worker thread or child process of the thread and process
 * pools. It imports the app module, then runs one task at a time for the worker, reporting
 * state updates and the outcome back. The worker owns the broker, the backend and the hard limit.
 */
import { parentPort, Worker as Thread, workerData } from 'node:worker_threads';
import { loadApp } from '../../cli/load-app.js';
import { UnknownTaskError } from '../../errors.js';
import { CancelToken } from '../cancel-token.js';
import { runTask } from '../run-task.js';
import type { FromExecutor, ToExecutor } from './executor-protocol.js';
import { toWireError } from './wire-error.js';

const inThread = parentPort !== null;
const post = (message: FromExecutor): void => {
  if (parentPort) parentPort.postMessage(message);
  else process.send?.(message);
};
const memoryBytes = () => (inThread ? process.memoryUsage().heapUsed : process.memoryUsage().rss);

const appModule = inThread ? (workerData as { appModule: string }).appModule : process.env['TQ_EXECUTOR_APP'];

/**
 * A child process executor dies with its worker. Nothing else would end it: a SIGKILLed or
 * OOM-killed parent sends no signal to its children, and an app module holding a handle (a
 * timer, a connection) keeps the event loop alive, so a running task would go on in the orphan
 * while its redelivered copy runs elsewhere. Two ways, so that no side effect of a task
 * continues after its worker is gone:
 * - the IPC channel to the worker closes ('disconnect'): exit at once;
 * - a watchdog thread sees the parent change (the orphan was re-parented): SIGKILL this
 *   process. It works while the main thread is stuck in a synchronous task, where no event
 *   ('disconnect' included) is ever handled.
 * Executors are forked in the worker's process group, so a supervisor that kills the group
 * (`kill -- -PGID`) ends them at the same moment as the worker.
 */
function dieWithParent(): void {
  process.on('disconnect', () => process.exit(70));
  const watchdog = new Thread(
    `const { workerData } = require('node:worker_threads');
     setInterval(() => { if (process.ppid !== workerData.ppid) process.kill(process.pid, 'SIGKILL'); }, workerData.everyMs);`,
    { eval: true, workerData: { ppid: process.ppid, everyMs: 100 }, execArgv: [] },
  );
  watchdog.unref();
}

if (!inThread) dieWithParent();

try {
  const app = await loadApp(appModule);
  const onMessage = async (message: ToExecutor) => {
    if (message.type !== 'run') return;
    const { jobId, request, hostname } = message;
    const definition = app.tasks.get(request.task);
    if (!definition) {
      post({ type: 'done', jobId, ok: false, error: toWireError(new UnknownTaskError(request.task, [...app.tasks.keys()])), memoryBytes: memoryBytes() });
      return;
    }
    const outcome = await runTask({
      definition,
      request,
      hostname,
      cancel: new CancelToken(), // the parent ends a job by terminating this executor
      enforceHardLimit: false,
      updateState: async (state, meta) => post({ type: 'state', jobId, state, meta }),
    });
    if (outcome.ok) post({ type: 'done', jobId, ok: true, value: outcome.value, memoryBytes: memoryBytes() });
    else post({ type: 'done', jobId, ok: false, error: toWireError(outcome.error), memoryBytes: memoryBytes() });
  };
  if (parentPort) parentPort.on('message', onMessage);
  else process.on('message', onMessage as (message: unknown) => void);
  post({ type: 'ready' });
} catch (error) {
  post({ type: 'load-failed', error: toWireError(error) });
  if (!inThread) process.exitCode = 1;
}
