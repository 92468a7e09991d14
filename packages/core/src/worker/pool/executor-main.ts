/**
 * An executor: the entry point of each worker thread or child process of the thread and process
 * pools. It imports the app module, then runs one task at a time for the worker, reporting
 * state updates and the outcome back. The worker owns the broker, the backend and the hard limit.
 */
import { parentPort, workerData } from 'node:worker_threads';
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
