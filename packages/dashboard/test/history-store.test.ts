import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskEvent } from '@tq/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HistoryStore } from '../src/history-store.js';

const t0 = 1_800_000_000; // seconds, as Celery's timestamps
const ev = (type: string, at: number, fields: Record<string, unknown> = {}): TaskEvent => ({ type, hostname: 'w1@host', timestamp: t0 + at, ...fields });

describe('HistoryStore', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tq-dash-'));
    path = join(dir, 'history.sqlite');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('folds a task life into its latest state and keeps the timeline', () => {
    const store = new HistoryStore(path);
    store.apply(ev('task-received', 0, { uuid: 'a1', name: 'add', args: '(2, 3)', kwargs: '{}', retries: 0, root_id: 'r', parent_id: 'p' }));
    store.apply(ev('task-started', 1, { uuid: 'a1' }));
    store.apply(ev('task-succeeded', 2, { uuid: 'a1', result: '5', runtime: 0.5 }));
    const task = store.task('a1')!;
    expect(task).toMatchObject({ name: 'add', state: 'SUCCESS', args: '(2, 3)', result: '5', runtime: 0.5, worker: 'w1@host', root_id: 'r', parent_id: 'p' });
    expect(task.received_at).toBe((t0 + 0) * 1000);
    expect(task.finished_at).toBe((t0 + 2) * 1000);
    expect(store.events('a1').map((e) => e.type)).toEqual(['task-received', 'task-started', 'task-succeeded']);
    store.close();
  });

  it('keeps a final state when an earlier event arrives late, and counts retries', () => {
    const store = new HistoryStore(path);
    store.apply(ev('task-failed', 5, { uuid: 'b', exception: "ValueError('x')", traceback: 'Traceback…' }));
    store.apply(ev('task-started', 4, { uuid: 'b' }));
    expect(store.task('b')).toMatchObject({ state: 'FAILURE', exception: "ValueError('x')", traceback: 'Traceback…' });
    store.apply(ev('task-retried', 1, { uuid: 'c', exception: 'E()' }));
    store.apply(ev('task-received', 2, { uuid: 'c', name: 'flaky', retries: 1 }));
    expect(store.task('c')).toMatchObject({ state: 'RECEIVED', retries: 1 });
    store.close();
  });

  it('searches by id prefix, name, state and time, and lists children', () => {
    const store = new HistoryStore(path);
    store.apply(ev('task-received', 0, { uuid: 'abc-1', name: 'mail.send' }));
    store.apply(ev('task-received', 10, { uuid: 'abd-2', name: 'report.build', parent_id: 'abc-1' }));
    store.apply(ev('task-failed', 11, { uuid: 'abd-2' }));
    expect(store.tasks({ id: 'abc' }).map((t) => t.uuid)).toEqual(['abc-1']);
    expect(store.tasks({ name: 'report' }).map((t) => t.uuid)).toEqual(['abd-2']);
    expect(store.tasks({ state: 'FAILURE' }).map((t) => t.uuid)).toEqual(['abd-2']);
    expect(store.tasks({ from: (t0 + 5) * 1000 }).map((t) => t.uuid)).toEqual(['abd-2']);
    expect(store.tasks().map((t) => t.uuid)).toEqual(['abd-2', 'abc-1']);
    expect(store.children('abc-1').map((t) => t.uuid)).toEqual(['abd-2']);
    store.close();
  });

  it('keeps progress from the result backend until the task ends', () => {
    const store = new HistoryStore(path);
    store.apply(ev('task-started', 0, { uuid: 'p' }));
    store.setProgress('p', 'PROGRESS', { current: 3, total: 10 });
    expect(store.task('p')).toMatchObject({ state: 'PROGRESS', progress: '{"current":3,"total":10}' });
    store.apply(ev('task-succeeded', 1, { uuid: 'p' }));
    store.setProgress('p', 'PROGRESS', { current: 4, total: 10 });
    expect(store.task('p')!.state).toBe('SUCCESS');
    store.close();
  });

  it('tells workers online by heartbeat expiry (freq × 2) and offline events', () => {
    const store = new HistoryStore(path);
    store.apply(ev('worker-heartbeat', 0, { freq: 2, active: 1, processed: 7, loadavg: [0.1, 0.2, 0.3], sw_ident: 'tq' }));
    const at = (t0 + 0) * 1000;
    expect(store.workers(at + 3999)[0]).toMatchObject({ hostname: 'w1@host', online: true, active: 1, processed: 7, loadavg: [0.1, 0.2, 0.3] });
    expect(store.workers(at + 4000)[0]!.online).toBe(false);
    store.apply(ev('worker-offline', 1));
    expect(store.workers(at + 1001)[0]).toMatchObject({ online: false, processed: 7 });
    store.apply(ev('worker-heartbeat', 2, { freq: 2 }));
    expect(store.workers(at + 2001)[0]!.online).toBe(true);
    store.close();
  });

  it('survives a reopen: the history is in the file', () => {
    const store = new HistoryStore(path);
    store.apply(ev('task-received', 0, { uuid: 'd', name: 'durable' }));
    store.close();
    const again = new HistoryStore(path);
    expect(again.task('d')!.name).toBe('durable');
    expect(again.events('d')).toHaveLength(1);
    again.close();
  });

  it('prunes by age and by count, with the timelines', () => {
    const store = new HistoryStore(path, { maxTasks: 2, maxAgeMs: 60_000 });
    store.apply(ev('task-received', 0, { uuid: 'old' }));
    for (const [i, id] of ['x', 'y', 'z'].entries()) store.apply(ev('task-received', 100 + i, { uuid: id }));
    const deleted = store.prune((t0 + 110) * 1000);
    expect(deleted).toBe(2);
    expect(store.tasks().map((t) => t.uuid).sort()).toEqual(['y', 'z']);
    expect(store.events('old')).toEqual([]);
    expect(store.events('x')).toEqual([]);
    expect(store.events('z')).toHaveLength(1);
    store.close();
  });
});
