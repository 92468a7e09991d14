#!/usr/bin/env node
// npm run soak -- [--broker redis|amqp|nats|kafka|postgres] [--tasks 100000] [--minutes 30]
//                 [--workers 3] [--concurrency 8] [--task-ms 2] [--fault-every-ms 5000]
// Runs integration/faults/soak.soak.ts: the tasks on one broker under random faults (worker
// SIGKILL, connections reset or silenced through the fault proxy), then prints lost and
// duplicated counts. Exits non-zero on any loss. Not part of CI.
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    broker: { type: 'string', default: 'redis' },
    tasks: { type: 'string', default: '100000' },
    minutes: { type: 'string', default: '30' },
    workers: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '8' },
    'task-ms': { type: 'string', default: '2' },
    'fault-every-ms': { type: 'string', default: '5000' },
  },
});
const env = {
  ...process.env,
  TQ_SOAK: '1',
  TQ_SOAK_BROKER: values.broker,
  TQ_SOAK_TASKS: values.tasks,
  TQ_SOAK_MINUTES: values.minutes,
  TQ_SOAK_WORKERS: values.workers,
  TQ_SOAK_CONCURRENCY: values.concurrency,
  TQ_SOAK_TASK_MS: values['task-ms'],
  TQ_SOAK_FAULT_EVERY_MS: values['fault-every-ms'],
};
const integration = new URL('../integration', import.meta.url).pathname;
const run = spawnSync('npx', ['vitest', 'run', '--project', 'soak'], { cwd: integration, env, stdio: 'inherit' });
process.exit(run.status ?? 1);
