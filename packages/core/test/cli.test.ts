import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNode, startTqWorker, type NodeRun } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '..', 'bin', 'tq.js');
const tasks = join(here, 'fixtures', 'tasks.mjs');
const env = { ...process.env, TQ_MEMORY_SOCKET: join(tmpdir(), `tq-cli-${randomUUID().slice(0, 8)}.sock`), TQ_BROKER_URL: '', TQ_RESULT_BACKEND: '' };

function tq(args: string[], timeoutMs = 15_000): Promise<NodeRun> {
  return runNode(bin, args, { cwd: here, env, timeoutMs });
}

let worker: ChildProcess | undefined;

beforeAll(async () => {
  ({ child: worker } = await startTqWorker(bin, ['--app', tasks, '--concurrency', '2', '--prefetch-multiplier', '3'], { cwd: here, env }));
});

afterAll(() => {
  worker?.kill('SIGKILL');
});

describe('tq CLI against a running worker', () => {
  it('tq call --canvas chain.json --wait prints each step state live, then the result; tq result --tree walks it', async () => {
    const file = join(tmpdir(), `tq-canvas-${randomUUID().slice(0, 8)}.json`);
    const step = (args: number[]) => ({ task: 'tq.add', args, kwargs: {}, options: {}, subtask_type: null, immutable: false });
    writeFileSync(file, JSON.stringify({ task: 'celery.chain', args: [], kwargs: { tasks: [step([1, 2]), step([10]), step([100])] }, options: {}, subtask_type: 'chain', immutable: false }));
    const run = await tq(['call', '--canvas', file, '--wait', '--timeout', '10']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines.at(-1)).toBe('113');
    expect(lines.filter((l) => / SUCCESS$/.test(l)).map((l) => l.split(' ')[1])).toEqual(['1/3', '2/3', '3/3']);
    const rootId = lines.find((l) => l.startsWith('step 1/3 '))!.split(' ')[2]!;
    const tree = await tq(['result', rootId, '--tree']);
    expect(tree.code, tree.stderr).toBe(0);
    const treeLines = tree.stdout.trim().split('\n');
    expect(treeLines).toHaveLength(3);
    expect(treeLines[0]).toBe(`${rootId} SUCCESS 3`);
    expect(treeLines[1]).toMatch(/^└─ [0-9a-f-]{36} SUCCESS 13$/);
    expect(treeLines[2]).toBe(`   └─ ${lines[0]} SUCCESS 113`);
  });

  it('tq call --canvas with a file that is not JSON fails with a clear error', async () => {
    const file = join(tmpdir(), `tq-canvas-${randomUUID().slice(0, 8)}.json`);
    writeFileSync(file, '{ not json');
    const run = await tq(['call', '--canvas', file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('not a readable JSON file');
  });

  it('tq call tq.add --args "[2,3]" --wait prints the id, then 5', async () => {
    const run = await tq(['call', 'tq.add', '--args', '[2,3]', '--wait']);
    expect(run.code).toBe(0);
    const [id, result] = run.stdout.trim().split('\n');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(result).toBe('5');
  });

  it('--broker memory:// and TQ_BROKER_URL=memory:// still reach the worker (not a broker of the command\'s own)', async () => {
    const run = await tq(['call', 'tq.add', '--args', '[2,3]', '--wait', '--timeout', '5', '--broker', 'memory://', '--backend', 'memory://']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim().split('\n')[1]).toBe('5');
    const ping = await runNode(bin, ['ping', '--timeout', '0.5'], { cwd: here, env: { ...env, TQ_BROKER_URL: 'memory://' } });
    expect(ping.stdout).toContain('pong');
  });

  it('--wait on a queue nobody consumes says so after 10 s; inspect query_task without an id is a usage error', async () => {
    const run = await tq(['call', 'tq.add', '--args', '[1,1]', '--queue', 'nobody-consumes-this', '--wait', '--timeout', '11'], 20_000);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('still PENDING after 10s');
    expect(run.stderr).toContain('queue "nobody-consumes-this"');
    expect((await tq(['purge', '--queue', 'nobody-consumes-this', '--force'])).code).toBe(0);
    const query = await tq(['inspect', 'query_task']);
    expect(query.code).toBe(2);
    expect(query.stderr).toContain('name at least one task id');
  });

  it('a second worker on the same memory:// fails before it says it consumes; a command for a named memory:// nobody serves names it', async () => {
    const second = await tq(['worker', '--app', tasks]);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain('another tq worker already serves');
    expect(second.stdout + second.stderr).not.toContain('consuming');
    const { TQ_MEMORY_SOCKET: _socket, ...unpinned } = env; // the socket then follows the memory:// name
    const nobody = await runNode(bin, ['call', 'tq.add', '--args', '[1,1]', '--broker', `memory://nobody-here-${randomUUID().slice(0, 8)}`], { cwd: here, env: unpinned });
    expect(nobody.code).not.toBe(0);
    expect(nobody.stderr).toMatch(/no tq worker serves memory:\/\/nobody-here-\w+ on this machine/);
    expect(nobody.stderr).toMatch(/--broker memory:\/\/nobody-here-\w+/);
  });

  it('shows live states and progress while waiting', async () => {
    const run = await tq(['call', 'tq.slow', '--args', '[400]', '--wait', '--timeout', '10']);
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split('\n')[1]).toBe('"slow done"');
    expect(run.stderr).toMatch(/PROGRESS \[.*\] \d\/4/);
    expect(run.stderr).toContain('SUCCESS');
  });

  it('exits 1 with the remote traceback when the task fails', async () => {
    const run = await tq(['call', 'tq.fail', '--wait']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('RangeError: out of range');
  });

  it('tq result prints a stored record', async () => {
    const sent = await tq(['call', 'tq.add', '--args', '[1,1]', '--wait']);
    const id = sent.stdout.split('\n')[0]!;
    const run = await tq(['result', id]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'SUCCESS', result: 2, task_id: id });
  });

  it('an unknown task fails fast with the reason', async () => {
    const run = await tq(['call', 'tq.nope', '--wait', '--timeout', '5']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('no task named "tq.nope"');
  });

  it('purge needs --force, then reports what it removed', async () => {
    const refused = await tq(['purge', '--queue', 'unused']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--force');
    const run = await tq(['purge', '--queue', 'unused', '--force']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('purged 0 message(s) from unused');
  });

  it('tq dead over memory:// says it needs the worker process', async () => {
    const run = await tq(['dead', 'list']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('memory:// can only be consumed inside the process that owns it');
  });

  it('tq queues prints the counts the broker keeps', async () => {
    for (let i = 0; i < 3; i++) await tq(['call', 'tq.add', '--args', '[1,1]', '--queue', 'counted']);
    const run = await tq(['queues', '-Q', 'counted,celery']);
    expect(run.code).toBe(0);
    const [header, counted, celery] = run.stdout.trim().split('\n').map((line) => line.trim().split(/\s+/));
    expect(header).toEqual(['queue', 'ready', 'delayed', 'unacked', 'dead', 'consumers', 'oldest']);
    expect(counted!.slice(0, 6)).toEqual(['counted', '3', '0', '0', '0', '0']);
    expect(counted![6]).toMatch(/^\d+(\.\d)?[sm]$/);
    expect(celery![0]).toBe('celery');
    expect(celery![5]).toBe('1');
    expect(celery![6]).toBe('-');
  });
});

describe('countdown tasks waiting in the broker', () => {
  it('tq queue scheduled and tq inspect scheduled list them from the broker; tq purge removes them', async () => {
    const later = (await tq(['call', 'tq.add', '--args', '[2,3]', '--countdown', '120', '--queue', 'sched'])).stdout.trim();
    const sooner = (await tq(['call', 'tq.add', '--args', '[1,1]', '--countdown', '60', '--queue', 'sched'])).stdout.trim();
    const listed = await tq(['queue', 'scheduled', 'sched', '--json']);
    expect(listed.code).toBe(0);
    const rows = listed.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(rows.map((row) => row['id']), 'soonest first').toEqual([sooner, later]);
    expect(rows[0]).toMatchObject({ queue: 'sched', task: 'tq.add', argsrepr: '(1, 1)' });
    expect(Date.parse(String(rows[0]!['eta'])) - Date.now()).toBeGreaterThan(50_000);
    expect((await tq(['queue', 'scheduled', 'sched', '--limit', '1', '--json'])).stdout.trim().split('\n')).toHaveLength(1);
    expect((await tq(['queue', 'scheduled', 'sched', '--limit', '0'])).code).toBe(2);

    const inspected = await tq(['inspect', 'scheduled', '-Q', 'sched', '--timeout', '0.5']);
    expect(inspected.code).toBe(0);
    const lines = inspected.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    // The worker holds neither (Celery's reply, what it holds); the broker line lists both.
    expect(Object.values(lines[0]!)[0]).toEqual([]);
    expect(lines.at(-1)).toEqual({ broker: { queue: 'sched', scheduled: [expect.objectContaining({ id: sooner, task: 'tq.add' }), expect.objectContaining({ id: later })] } });

    const purged = await tq(['purge', '--queue', 'sched', '--force']);
    expect(purged.code).toBe(0);
    expect(purged.stdout).toBe('purged 2 message(s) from sched\n');
    expect((await tq(['queue', 'scheduled', 'sched', '--json'])).stdout).toBe('');
  });
});

describe('tq remote control against a running worker', () => {
  it('tq worker -n names the worker with %h expanded (seen by ping)', async () => {
    const named = await startTqWorker(bin, ['--app', tasks, '-n', 'named@%h', '--queues', 'named-only'], {
      env: { ...env, TQ_MEMORY_SOCKET: join(tmpdir(), `tq-cli-n-${randomUUID().slice(0, 8)}.sock`) },
      cwd: here,
    });
    try {
      expect(named.log()).toMatch(new RegExp(`worker named@${hostname().replace(/\./g, '\\.')} consuming`));
    } finally {
      named.child.kill('SIGKILL');
    }
  });

  it('tq ping lists the worker', async () => {
    const run = await tq(['ping', '--timeout', '0.5']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/@.*: \{"ok":"pong"\}/);
  });

  it('tq inspect registered lists the task names', async () => {
    const run = await tq(['inspect', 'registered', '--timeout', '0.5']);
    expect(run.code).toBe(0);
    const [reply] = run.stdout.trim().split('\n').map((line) => Object.values(JSON.parse(line))[0]);
    expect(reply).toEqual(['tq.add', 'tq.fail', 'tq.reject', 'tq.slow']);
  });

  it('tq control rate_limit answers per worker; an unknown task is refused', async () => {
    const run = await tq(['control', 'rate_limit', 'tq.add', '100/s', '--timeout', '0.5']);
    expect(run.code).toBe(0);
    expect(Object.values(JSON.parse(run.stdout.trim()) as Record<string, unknown>)[0]).toEqual({ ok: 'new rate limit set successfully' });
    const unknown = await tq(['control', 'rate_limit', 'tq.nope', '1/s', '--timeout', '0.5']);
    expect(Object.values(JSON.parse(unknown.stdout.trim()) as Record<string, unknown>)[0]).toEqual({ error: 'unknown task tq.nope' });
    expect(unknown.code).toBe(1); // a refusal is not a success
    expect(unknown.stderr).toContain('answered with an error');
  });

  it('tq control add_consumer / cancel_consumer and pool_grow / pool_shrink reach the worker', async () => {
    const added = await tq(['control', 'add_consumer', 'cli-extra', '--timeout', '0.5']);
    expect(added.code, added.stderr).toBe(0);
    expect(Object.values(JSON.parse(added.stdout.trim()) as Record<string, unknown>)[0]).toEqual({ ok: 'add consumer cli-extra' });
    const queues = await tq(['inspect', 'active_queues', '--timeout', '0.5']);
    expect(queues.stdout).toContain('"cli-extra"');
    const cancelled = await tq(['control', 'cancel_consumer', 'cli-extra', '--timeout', '0.5']);
    expect(Object.values(JSON.parse(cancelled.stdout.trim()) as Record<string, unknown>)[0]).toEqual({ ok: 'no longer consuming from cli-extra' });
    const grown = await tq(['control', 'pool_grow', '2', '--timeout', '0.5']);
    expect(grown.code, grown.stdout).toBe(0);
    const stats = async () => (Object.values(JSON.parse((await tq(['inspect', 'stats', '--timeout', '0.5'])).stdout.trim().split('\n')[0]!))[0] as { pool: { 'max-concurrency': number } }).pool['max-concurrency'];
    expect(await stats()).toBe(4);
    expect((await tq(['control', 'pool_shrink', '2', '--timeout', '0.5'])).code).toBe(0);
    expect(await stats()).toBe(2);
    expect((await tq(['control', 'add_consumer'])).code).toBe(2);
  });

  it('tq inspect stats answers in Celery\'s shape', async () => {
    const run = await tq(['inspect', 'stats', '--timeout', '0.5']);
    expect(run.code).toBe(0);
    const stats = Object.values(JSON.parse(run.stdout.trim().split('\n')[0]!) as Record<string, Record<string, unknown>>)[0]!;
    expect(stats['pool']).toMatchObject({ 'max-concurrency': 2 });
    expect(stats['prefetch_count']).toBe(6); // --concurrency 2 × --prefetch-multiplier 3
    expect(stats['broker']).toMatchObject({ transport: 'memory' });
  });

  it('tq control revoke --terminate (--signal) stops a running task', async () => {
    const sent = await tq(['call', 'tq.slow', '--args', '[4000]']);
    const id = sent.stdout.trim();
    await new Promise((r) => setTimeout(r, 300));
    const run = await tq(['control', 'revoke', id, '--terminate', '--signal', 'KILL']);
    expect(run.code).toBe(0);
    const result = await tq(['result', id, '--wait', '--timeout', '15'], 30_000);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('revoked');
  });

  it('tq events shows task events from a worker started with -E', async () => {
    const socket = join(tmpdir(), `tq-cli-${randomUUID().slice(0, 8)}.sock`);
    const local = { ...env, TQ_MEMORY_SOCKET: socket };
    const { child } = await startTqWorker(bin, ['--app', tasks, '-E', '--pool', 'threads', '--concurrency', '1'], { env: local, cwd: here });
    const events = spawn(process.execPath, [bin, 'events'], { env: local, cwd: here });
    let seen = '';
    events.stdout.on('data', (d) => (seen += d));
    await new Promise((r) => setTimeout(r, 300));
    const call = spawn(process.execPath, [bin, 'call', 'tq.add', '--args', '[20,22]', '--wait'], { env: local });
    let out = '';
    call.stdout.on('data', (d) => (out += d));
    await new Promise((r) => call.on('close', r));
    expect(out.trim().split('\n')[1]).toBe('42');
    while (!seen.includes('task-succeeded')) await new Promise((r) => setTimeout(r, 50));
    expect(seen).toContain('task-received');
    expect(seen).toContain('task-started');
    events.kill('SIGINT');
    child.kill('SIGTERM');
    expect(await new Promise((r) => child.on('close', r))).toBe(0);
  });
});

describe('tq CLI usage errors', () => {
  it('--help everywhere', async () => {
    for (const command of [[], ['worker'], ['call'], ['result'], ['purge'], ['control'], ['inspect'], ['ping'], ['events']]) {
      const run = await tq([...command, '--help']);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('tq');
    }
  });

  it('bad JSON arguments say what to do', async () => {
    const run = await tq(['call', 'tq.add', '--args', '[2,']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--args must be JSON');
  });

  it('an unknown command and an unknown flag exit 2 with usage', async () => {
    expect((await tq(['frobnicate'])).code).toBe(2);
    const run = await tq(['call', 'tq.add', '--bogus']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--bogus');
  });

  it('worker without --app explains', async () => {
    const run = await tq(['worker']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--app is required');
  });

  it('a task module that does not parse names the file and line; a .ts module says to compile it or use a loader', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tq-cli-app-'));
    writeFileSync(join(dir, 'broken.js'), 'export default {\n  a: 1;\n};\n');
    writeFileSync(join(dir, 'tasks.ts'), 'export default 1;\n');
    const broken = await tq(['worker', '--app', join(dir, 'broken.js')]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain(`${join(dir, 'broken.js')}:2`);
    expect(broken.stderr).toContain("SyntaxError: Unexpected token ';'");
    expect(broken.stderr).not.toContain('node:internal');
    const typescript = await tq(['worker', '--app', join(dir, 'tasks.ts')]);
    expect(typescript.code).toBe(2);
    expect(typescript.stderr).toContain('compile it first (tsc)');
    expect(typescript.stderr).not.toContain('node:internal');
  });

  it('a password that is not valid percent-encoding is a configuration error that says how to write it, the password hidden', async () => {
    const run = await tq(['call', 'tq.add', '--broker', 'redis://:Hunter2%Secret@127.0.0.1:6379/9']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('write a literal % as %25');
    expect(run.stderr).not.toContain('Hunter2');
  });

  it('a broker URL with a password is redacted in errors', async () => {
    const run = await tq(['call', 'tq.add', '--broker', 'reddis://user:hunter2@localhost:6379']);
    expect(run.code).toBe(2);
    expect(run.stderr).not.toContain('hunter2');
    expect(run.stderr).toContain('did you mean');
  });
});

describe('tq worker shutdown', () => {
  it('SIGTERM finishes the running task, then exits 0', async () => {
    const socket = join(tmpdir(), `tq-cli-${randomUUID().slice(0, 8)}.sock`);
    const local = { ...env, TQ_MEMORY_SOCKET: socket };
    const { child, log } = await startTqWorker(bin, ['--app', tasks], { env: local, cwd: here });
    await runNode(bin, ['call', 'tq.slow', '--args', '[800]'], { env: local, cwd: here });
    while (!log().includes('received tq.slow')) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.on('close', r));
    expect(code).toBe(0);
    expect(log()).toContain('succeeded tq.slow');
    expect(log()).toContain('stopped');
  });

  it('--shutdown-timeout: SIGTERM waits that long for a running task, then stops it and exits 0', async () => {
    const socket = join(tmpdir(), `tq-cli-${randomUUID().slice(0, 8)}.sock`);
    const local = { ...env, TQ_MEMORY_SOCKET: socket };
    const { child, log } = await startTqWorker(bin, ['--app', tasks, '--shutdown-timeout', '0.3'], { env: local, cwd: here });
    await runNode(bin, ['call', 'tq.slow', '--args', '[20000]'], { env: local, cwd: here });
    while (!log().includes('received tq.slow')) await new Promise((r) => setTimeout(r, 20));
    const at = Date.now();
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.on('close', r));
    expect(code).toBe(0);
    expect(Date.now() - at).toBeLessThan(5000);
    expect(log()).toContain('still running after 300 ms');
    expect(log()).not.toContain('succeeded tq.slow');
  });

  it('tq control shutdown (as celery control shutdown) finishes the running task, then the worker process exits 0', async () => {
    const socket = join(tmpdir(), `tq-cli-${randomUUID().slice(0, 8)}.sock`);
    const local = { ...env, TQ_MEMORY_SOCKET: socket };
    const { child, log } = await startTqWorker(bin, ['--app', tasks], { env: local, cwd: here });
    const exited = new Promise((r) => child.on('close', r));
    await runNode(bin, ['call', 'tq.slow', '--args', '[500]'], { env: local, cwd: here });
    while (!log().includes('received tq.slow')) await new Promise((r) => setTimeout(r, 20));
    const run = await runNode(bin, ['control', 'shutdown'], { env: local, cwd: here });
    expect(run.code).toBe(0);
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 8000))]);
    if (code === 'still running') child.kill('SIGKILL');
    expect(code).toBe(0);
    expect(log()).toContain('shutdown requested by remote control');
    expect(log()).toContain('succeeded tq.slow');
  });

  it('--prefetch-multiplier must be a positive integer', async () => {
    for (const value of ['0', '2.5']) {
      const run = await tq(['worker', '--app', tasks, '--prefetch-multiplier', value]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('--prefetch-multiplier must be a positive integer');
    }
  });

  it('--shutdown-timeout, --result-retry-limit and --consumer-stall must be numbers', async () => {
    for (const flag of ['--shutdown-timeout', '--result-retry-limit', '--consumer-stall']) {
      const run = await tq(['worker', '--app', tasks, flag, 'soon']);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`${flag} must be a non-negative number`);
    }
  });
});
