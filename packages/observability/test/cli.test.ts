import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const core = fileURLToPath(new URL('../../core/', import.meta.url));
const bin = join(core, 'bin', 'tq.js');
const tasks = join(core, 'test', 'fixtures', 'tasks.mjs');
const env = { ...process.env, TQ_MEMORY_SOCKET: join(tmpdir(), `tq-obs-${randomUUID().slice(0, 8)}.sock`), TQ_BROKER_URL: '', TQ_RESULT_BACKEND: '' };
let worker: ChildProcess | undefined;

afterAll(() => {
  worker?.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function run(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

describe('tq worker --metrics-port --log-format json', () => {
  it('serves /metrics and /readyz, and logs one JSON object a line with task id, name and worker', async () => {
    const port = await freePort();
    worker = spawn(process.execPath, [bin, 'worker', '--app', tasks, '--concurrency', '2', '--metrics-port', String(port), '--metrics-host', '127.0.0.1', '--log-format', 'json'], { env });
    let log = '';
    worker.stderr!.on('data', (d) => (log += d));
    await expect.poll(() => log.includes('consuming'), { timeout: 15_000 }).toBe(true);

    const call = await run(['call', 'tq.add', '--args', '[2,3]', '--wait']);
    expect(call.code).toBe(0);
    const id = call.stdout.trim().split('\n')[0]!;
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain('tq_tasks_succeeded_total{task="tq.add"} 1');
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);

    await expect.poll(() => log.includes(`"task_id":"${id}"`), { timeout: 5_000 }).toBe(true);
    const lines = log.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    const succeeded = lines.find((l) => l['task_id'] === id && String(l['msg']).startsWith('succeeded'));
    expect(succeeded).toMatchObject({ level: 'info', task: 'tq.add', worker: expect.stringMatching(/^\d+@/) });

    const exited = new Promise<number | null>((resolve) => worker!.once('exit', resolve));
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
