import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNode, startTqWorker, type NodeRun } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '..', 'bin', 'tq.js');
const tasks = join(here, 'fixtures', 'beat-tasks.mjs');
const env = { ...process.env, TQ_MEMORY_SOCKET: join(tmpdir(), `tq-beat-${randomUUID().slice(0, 8)}.sock`), TQ_BROKER_URL: '', TQ_RESULT_BACKEND: '' };

function tq(args: string[]): Promise<NodeRun> {
  return runNode(bin, args, { cwd: here, env });
}

const row = (list: string, name: string) => list.split('\n').find((line) => line.startsWith(`${name} `));

let worker: ChildProcess | undefined;
let workerLog = () => '';

beforeAll(async () => {
  ({ child: worker, log: workerLog } = await startTqWorker(bin, ['--app', tasks, '--beat', '--concurrency', '2'], { cwd: here, env }));
});

afterAll(() => {
  worker?.kill('SIGKILL');
});

describe('tq worker --beat and tq beat list|add|pause|resume|remove (memory://, through the worker)', () => {
  it('the embedded beat runs the code schedule, and the worker runs its ticks', async () => {
    await new Promise((r) => setTimeout(r, 2500));
    const list = await tq(['beat', 'list', '--app', tasks]);
    expect(list.code, list.stderr).toBe(0);
    const line = row(list.stdout, 'code-tick');
    expect(line).toMatch(/tq\.add\s+every 1s\s+code\s+active\s+\d{4}-\d\d-\d\dT\S+Z\s+\d{4}-\d\d-\d\dT\S+Z\s+[1-9]\d*$/);
    expect(workerLog()).toMatch(/beat: sent tq\.add\[[0-9a-f-]{36}\] for code-tick/);
    expect(workerLog()).toMatch(/succeeded tq\.add\[[0-9a-f-]{36}\] in [\d.]+ ms: 3/);
  });

  it('add, pause, resume and remove a runtime schedule; a code schedule can only be paused', async () => {
    const added = await tq(['beat', 'add', 'rt', '{"task":"tq.add","args":[5,5],"cron":"0 3 * * *","timezone":"Europe/Paris"}', '--app', tasks]);
    expect(added.code, added.stderr).toBe(0);
    expect(row((await tq(['beat', 'list', '--app', tasks])).stdout, 'rt')).toMatch(/tq\.add\s+cron 0 3 \* \* \* Europe\/Paris\s+runtime\s+active\s+\S+T(01|02):00:00\.000Z\s+-\s+0$/);
    expect((await tq(['beat', 'pause', 'rt', '--app', tasks])).code).toBe(0);
    expect(row((await tq(['beat', 'list', '--app', tasks])).stdout, 'rt')).toMatch(/runtime\s+paused\s+-\s+-\s+0$/);
    expect((await tq(['beat', 'resume', 'rt', '--app', tasks])).code).toBe(0);
    expect(row((await tq(['beat', 'list', '--app', tasks])).stdout, 'rt')).toMatch(/runtime\s+active/);
    expect((await tq(['beat', 'remove', 'rt', '--app', tasks])).code).toBe(0);
    expect(row((await tq(['beat', 'list', '--app', tasks])).stdout, 'rt')).toBeUndefined();
    const refused = await tq(['beat', 'remove', 'code-tick', '--app', tasks]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/defined in code: pause it instead/);
    const standalone = await tq(['beat', '--app', tasks]);
    expect(standalone.code).toBe(2);
    expect(standalone.stderr).toMatch(/standalone tq beat on memory:\/\/ would send into its own process/);
    const bad = await tq(['beat', 'add', 'bad', '{"task":"x","every":"soon"}', '--app', tasks]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/schedules\.bad\.every: expected a positive duration/);
  });
});
