// The dashboard's browser side: Preact components written with htm tagged templates, so the
// files run as they are (no build step). Pages: #/workers, #/tasks, #/tasks/<id>,
// #/queues/<queue>/dead, #/schedules.
import { h, render } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';

const html = htm.bind(h);
const finalStates = new Set(['SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED']);

// ---- API access: basic auth rides on the browser's credentials; a bearer token is asked for
// once and kept for the tab (sessionStorage), sent as a header, never in a URL.
function authHeaders() {
  const token = sessionStorage.getItem('tq-dashboard-token');
  return token ? { authorization: `Bearer ${token}` } : {};
}

class Unauthorized extends Error {}

async function api(path, init = {}) {
  const response = await fetch(path, { ...init, headers: { 'content-type': 'application/json', ...authHeaders(), ...(init.headers ?? {}) } });
  if (response.status === 401) throw new Unauthorized('unauthorized');
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ?? response.statusText);
  return body;
}

// ---- Live updates: Server-Sent Events read through fetch (so the token header can be sent).
const listeners = new Set();
let liveState = 'connecting';
const liveStateListeners = new Set();
function setLiveState(state) {
  liveState = state;
  for (const l of liveStateListeners) l(state);
}

async function connectLive() {
  for (;;) {
    try {
      const response = await fetch('/api/stream', { headers: authHeaders() });
      if (!response.ok || !response.body) throw new Error(String(response.status));
      setLiveState('live');
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const lines = block.split('\n');
          const event = lines.find((l) => l.startsWith('event:'))?.slice(6).trim();
          const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
          if (event === 'change') {
            const change = JSON.parse(data);
            for (const listener of listeners) listener(change);
          }
        }
      }
    } catch {
      // Reconnect below.
    }
    setLiveState('reconnecting');
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function useLive(listener) {
  const ref = useRef(listener);
  ref.current = listener;
  useEffect(() => {
    const l = (change) => ref.current(change);
    listeners.add(l);
    return () => listeners.delete(l);
  }, []);
}

function useLiveState() {
  const [state, setState] = useState(liveState);
  useEffect(() => {
    liveStateListeners.add(setState);
    return () => liveStateListeners.delete(setState);
  }, []);
  return state;
}

// ---- Helpers.
const time = (ms) => (ms ? new Date(ms).toLocaleString() : '');
const ago = (ms) => (ms ? `${Math.max(0, Math.round((Date.now() - ms) / 1000))}s ago` : '—');
const State = ({ state }) => html`<span class=${`state state-${state}`} data-testid="state">${state}</span>`;

/** {current, total} (Celery's usual PROGRESS meta), {done, total} or {percent}. */
function progressOf(task) {
  if (!task.progress) return null;
  let meta;
  try {
    meta = JSON.parse(task.progress);
  } catch {
    return null;
  }
  if (!meta || typeof meta !== 'object') return null;
  const current = meta.current ?? meta.done;
  if (typeof meta.percent === 'number') return { percent: meta.percent, label: `${meta.percent}%` };
  if (typeof current === 'number' && typeof meta.total === 'number' && meta.total > 0) {
    return { percent: Math.round((current / meta.total) * 100), label: `${current} / ${meta.total}` };
  }
  return null;
}

function ProgressBar({ task }) {
  const p = progressOf(task);
  if (!p) return null;
  const percent = finalStates.has(task.state) && task.state === 'SUCCESS' ? 100 : p.percent;
  return html`<span class="progress" role="progressbar" aria-valuenow=${percent} aria-valuemin="0" aria-valuemax="100" title=${p.label}
      ><div style=${`width: ${percent}%`}></div></span
    >
    <span class="mono"> ${p.label}</span>`;
}

/** From `inspect stats`: tq names its pool ("tq:async"); Celery's prefork pool gives only its size. */
function poolText(pool) {
  if (!pool) return '—';
  const size = pool['max-concurrency'] ?? '?';
  return pool.implementation ? `${pool.implementation} × ${size}` : `${size} processes`;
}

// ---- Pages.
/** An age as `tq queues` prints it (4.2s, 95s, 12m), and hours past ten. */
function age(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms < 10_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`;
  if (ms < 600_000) return `${Math.floor(ms / 1000)}s`;
  if (ms < 36_000_000) return `${Math.floor(ms / 60_000)}m`;
  return `${Math.floor(ms / 3_600_000)}h`;
}

/**
 * Queue counts, polled: ready/s is the change of ready messages between two polls. Each row
 * pauses or resumes its queue cluster-wide (app.queues) and links to its dead letters.
 */
function QueuesTable() {
  const [state, setState] = useState({ queues: [], rates: {}, error: '' });
  const [message, setMessage] = useState('');
  const last = useRef();
  const load = useCallback(
    () =>
      api('/api/queues').then(
        (r) => {
          const rates = {};
          if (last.current) for (const q of r.queues) {
            const before = last.current.queues.find((p) => p.name === q.name);
            if (before && typeof q.ready === 'number') rates[q.name] = ((q.ready - before.ready) * 1000) / Math.max(1, r.at - last.current.at);
          }
          last.current = r;
          setState({ queues: r.queues, rates, error: r.error ?? '' });
        },
        () => undefined,
      ),
    [],
  );
  useEffect(() => {
    load();
    const timer = setInterval(load, 2000);
    return () => clearInterval(timer);
  }, [load]);
  const act = async (queue, action) => {
    try {
      await api(`/api/queues/${encodeURIComponent(queue)}/${action}`, { method: 'POST' });
      setMessage(action === 'pause' ? `paused ${queue}: workers stop taking its messages` : `resumed ${queue}`);
      await load();
    } catch (error) {
      setMessage(`${action} failed: ${error.message}`);
    }
  };
  const cell = (v) => (v === null || v === undefined ? '–' : v);
  return html`<h3>Queues</h3>
    ${state.error && html`<p>${state.error}</p>`}
    ${message && html`<p class="notice" data-testid="queue-message">${message}</p>`}
    <table data-testid="queues">
      <thead><tr><th>Queue</th><th>Status</th><th>Ready</th><th>Ready/s</th><th>Unacked</th><th>Oldest</th><th>Dead letters</th><th>Consumers</th><th></th></tr></thead>
      <tbody>
        ${state.queues.map(
          (q) => html`<tr key=${q.name} data-queue=${q.name}>
            <td class="mono">${q.name}</td>
            <td class=${q.paused ? 'paused' : ''} title=${q.pausedAt ? `paused since ${time(Date.parse(q.pausedAt))}` : ''}>${q.paused === null ? '–' : q.paused ? 'paused' : 'active'}</td>
            <td>${cell(q.ready)}</td><td>${state.rates[q.name] === undefined ? '' : state.rates[q.name].toFixed(1)}</td>
            <td>${cell(q.unacked)}</td><td title="age of the oldest waiting message">${age(q.oldestAgeMs)}</td>
            <td><a href=${`#/queues/${encodeURIComponent(q.name)}/dead`}>${cell(q.dead)}</a></td><td>${cell(q.consumers)}</td>
            <td>${q.paused === null
              ? ''
              : q.paused
                ? html`<button onClick=${() => act(q.name, 'resume')}>Resume</button>`
                : html`<button onClick=${() => act(q.name, 'pause')}>Pause</button>`}</td>
          </tr>`,
        )}
      </tbody>
    </table>`;
}

/** The dead letters of one queue (its "<queue>.dead" store), with replay and purge. */
function DeadLettersPage({ queue }) {
  const [body, setBody] = useState(null);
  const [error, setError] = useState('');
  const [message, setMessage] = useState('');
  const load = useCallback(
    () =>
      api(`/api/queues/${encodeURIComponent(queue)}/dead`).then(
        (r) => (setBody(r), setError('')),
        (e) => setError(e.message),
      ),
    [queue],
  );
  useEffect(() => {
    load();
  }, [load]);
  const act = async (action, ids) => {
    const what = ids ? `dead letter ${ids[0]}` : `every dead letter of ${queue}`;
    if (action === 'purge' && !confirm(`Delete ${what} for good?`)) return;
    try {
      const r = await api(`/api/queues/${encodeURIComponent(queue)}/dead/${action}`, { method: 'POST', body: JSON.stringify(ids ? { ids } : {}) });
      setMessage(action === 'replay' ? `replayed ${r.replayed.length} dead letter(s) to ${queue}` : `purged ${r.purged.length} dead letter(s)`);
    } catch (e) {
      setMessage(`${action} failed: ${e.message}`);
    }
    await load();
  };
  const letters = body?.letters ?? [];
  return html`<h2>Dead letters of <span class="mono">${queue}</span></h2>
    ${message && html`<p class="notice" data-testid="dead-message">${message}</p>`}
    ${error && html`<p class="notice">${error}</p>`}
    <div class="actions">
      <button onClick=${() => load()}>Refresh</button>
      <button disabled=${letters.length === 0} onClick=${() => act('replay')}>Replay all</button>
      <button class="danger" disabled=${letters.length === 0} onClick=${() => act('purge')}>Purge all</button>
    </div>
    <table data-testid="dead-letters">
      <thead><tr><th>Task</th><th>Id</th><th>Dead since</th><th>Code</th><th>Reason</th><th>Replays</th><th>Args</th><th></th></tr></thead>
      <tbody>
        ${letters.map(
          (l, i) => html`<tr key=${l.id ?? i} data-letter=${l.id ?? ''}>
            <td>${l.task ?? '?'}</td>
            <td class="mono">${l.id ? html`<a href=${`#/tasks/${l.id}`}>${l.id}</a>` : '—'}</td>
            <td>${time(l.deadAt)}</td>
            <td class="mono">${l.code ?? ''}</td>
            <td>${l.reason ?? ''}</td>
            <td>${l.replays}</td>
            <td class="mono">${l.argsrepr ?? ''}</td>
            <td>${l.id && html`<button onClick=${() => act('replay', [l.id])}>Replay</button> <button class="danger" onClick=${() => act('purge', [l.id])}>Purge</button>`}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${body && letters.length === 0 && html`<p>No dead letters in <span class="mono">${body.store}</span>.</p>`}`;
}

function WorkersPage() {
  const [workers, setWorkers] = useState([]);
  const [queue, setQueue] = useState('celery');
  const [message, setMessage] = useState('');
  const load = useCallback(() => api('/api/workers').then(setWorkers).catch(() => undefined), []);
  useEffect(() => {
    api('/api/config').then((config) => setQueue(config.defaultQueue), () => undefined);
  }, []);
  useEffect(() => {
    load();
    // Online turns to offline by heartbeat expiry, without an event: re-read now and then.
    const timer = setInterval(load, 3000);
    return () => clearInterval(timer);
  }, [load]);
  useLive((change) => {
    if (change.kind !== 'worker') return;
    setWorkers((list) => {
      const old = list.find((w) => w.hostname === change.worker.hostname);
      const merged = { ...old, ...change.worker, pool: old?.pool ?? null };
      return [...list.filter((w) => w.hostname !== merged.hostname), merged].sort((a, b) => a.hostname.localeCompare(b.hostname));
    });
  });
  const purge = async (e) => {
    e.preventDefault();
    if (!confirm(`Delete every waiting message in "${queue}"?`)) return;
    try {
      const r = await api(`/api/queues/${encodeURIComponent(queue)}/purge`, { method: 'POST' });
      setMessage(`purged ${r.purged} message(s) from ${r.queue}`);
    } catch (error) {
      setMessage(`purge failed: ${error.message}`);
    }
  };
  return html`<h2>Workers</h2>
    <table data-testid="workers">
      <thead><tr><th>Worker</th><th>Status</th><th>Pool</th><th>Active</th><th>Processed</th><th>Load</th><th>Last heartbeat</th><th>Software</th></tr></thead>
      <tbody>
        ${workers.map(
          (w) => html`<tr key=${w.hostname} data-worker=${w.hostname}>
            <td class="mono">${w.hostname}</td>
            <td class=${w.online ? 'online' : 'offline'}>${w.online ? 'online' : 'offline'}</td>
            <td>${poolText(w.pool)}</td>
            <td>${w.active ?? ''}</td>
            <td>${w.processed ?? ''}</td>
            <td>${w.loadavg ? w.loadavg.join(', ') : ''}</td>
            <td title=${time(w.last_heartbeat)}>${ago(w.last_heartbeat)}</td>
            <td>${[w.sw_ident, w.sw_ver].filter(Boolean).join(' ')}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${workers.length === 0 && html`<p>No worker seen yet: workers must run with events on (<code>tq worker -E</code>, <code>celery worker -E</code>).</p>`}
    <${QueuesTable} />
    <h3>Purge a queue</h3>
    <form class="filters" onSubmit=${purge}>
      <input aria-label="queue" value=${queue} onInput=${(e) => setQueue(e.target.value)} />
      <button class="danger" type="submit">Purge</button>
      <span>${message}</span>
    </form>`;
}

const stateChoices = ['', 'PENDING', 'RECEIVED', 'STARTED', 'PROGRESS', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED'];

function matches(task, f) {
  if (f.id && !task.uuid.startsWith(f.id)) return false;
  if (f.name && !(task.name ?? '').includes(f.name)) return false;
  if (f.state && task.state !== f.state) return false;
  if (f.from && task.first_seen < Date.parse(f.from)) return false;
  if (f.to && task.first_seen > Date.parse(f.to)) return false;
  return true;
}

function TasksPage() {
  const [filters, setFilters] = useState({ id: '', name: '', state: '', from: '', to: '' });
  const [tasks, setTasks] = useState([]);
  useEffect(() => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) params.set(k, k === 'from' || k === 'to' ? String(Date.parse(v)) : v);
    params.set('limit', '200');
    api(`/api/tasks?${params}`).then(setTasks).catch(() => undefined);
  }, [filters]);
  useLive((change) => {
    if (change.kind !== 'task') return;
    setTasks((list) => {
      const rest = list.filter((t) => t.uuid !== change.task.uuid);
      if (!matches(change.task, filters)) return rest;
      return [change.task, ...rest].sort((a, b) => b.first_seen - a.first_seen).slice(0, 200);
    });
  });
  const set = (key) => (e) => setFilters({ ...filters, [key]: e.target.value });
  return html`<h2>Tasks</h2>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <input placeholder="task id" aria-label="task id" value=${filters.id} onInput=${set('id')} />
      <input placeholder="name" aria-label="name" value=${filters.name} onInput=${set('name')} />
      <select aria-label="state" value=${filters.state} onChange=${set('state')}>
        ${stateChoices.map((s) => html`<option value=${s}>${s || 'any state'}</option>`)}
      </select>
      <label>from <input type="datetime-local" aria-label="from" value=${filters.from} onInput=${set('from')} /></label>
      <label>to <input type="datetime-local" aria-label="to" value=${filters.to} onInput=${set('to')} /></label>
    </form>
    <table data-testid="tasks">
      <thead><tr><th>Task</th><th>Id</th><th>State</th><th>Progress</th><th>Args</th><th>Worker</th><th>Seen</th><th>Runtime</th></tr></thead>
      <tbody>
        ${tasks.map(
          (t) => html`<tr key=${t.uuid} data-task=${t.uuid}>
            <td>${t.name ?? '?'}</td>
            <td class="mono"><a href=${`#/tasks/${t.uuid}`}>${t.uuid}</a></td>
            <td><${State} state=${t.state} /></td>
            <td><${ProgressBar} task=${t} /></td>
            <td class="mono">${t.args}</td>
            <td class="mono">${t.worker ?? ''}</td>
            <td>${time(t.first_seen)}</td>
            <td>${t.runtime != null ? `${t.runtime.toFixed(3)} s` : ''}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${tasks.length === 0 && html`<p>No tasks match.</p>`}`;
}

function TaskPage({ id }) {
  const [detail, setDetail] = useState(null);
  const [error, setError] = useState('');
  const [message, setMessage] = useState('');
  const load = useCallback(() => api(`/api/tasks/${encodeURIComponent(id)}`).then(setDetail, (e) => setError(e.message)), [id]);
  useEffect(() => {
    setDetail(null);
    load();
  }, [load]);
  useLive((change) => {
    if (change.kind === 'task' && (change.task.uuid === id || change.task.parent_id === id)) load();
  });
  if (error && !detail) return html`<p class="notice">${error}</p>`;
  if (!detail) return html`<p>Loading…</p>`;
  const { task, events, children, parent } = detail;
  const act = async (path, body, question) => {
    if (question && !confirm(question)) return;
    try {
      const r = await api(`/api/tasks/${encodeURIComponent(id)}/${path}`, { method: 'POST', body: JSON.stringify(body ?? {}) });
      if (path === 'retry') {
        setMessage(html`sent again as <a href=${`#/tasks/${r.id}`}>${r.id}</a>`);
      } else setMessage(r.terminate ? 'terminate requested' : 'revoke requested');
    } catch (e) {
      setMessage(`failed: ${e.message}`);
    }
  };
  const running = !finalStates.has(task.state);
  return html`<h2>${task.name ?? 'task'} <${State} state=${task.state} /></h2>
    ${message && html`<p class="notice" data-testid="action-message">${message}</p>`}
    <div class="actions">
      <button disabled=${!running} onClick=${() => act('revoke', { terminate: false })}>Revoke</button>
      <button class="danger" disabled=${!running} onClick=${() => act('revoke', { terminate: true }, 'Terminate this task while it runs?')}>Terminate</button>
      <button disabled=${!finalStates.has(task.state) || task.state === 'SUCCESS'} onClick=${() => act('retry')}>Retry</button>
    </div>
    <dl>
      <dt>Id</dt><dd class="mono">${task.uuid}</dd>
      <dt>Progress</dt><dd>${progressOf(task) ? html`<${ProgressBar} task=${task} />` : '—'}</dd>
      <dt>Args</dt><dd class="mono">${task.args}</dd>
      <dt>Kwargs</dt><dd class="mono">${task.kwargs}</dd>
      <dt>Result</dt><dd class="mono" data-testid="result">${task.result ?? ''}</dd>
      <dt>Exception</dt><dd class="mono">${task.exception ?? ''}</dd>
      <dt>Worker</dt><dd class="mono">${task.worker ?? ''}</dd>
      <dt>Queue</dt><dd>${task.queue ?? ''}</dd>
      <dt>Received</dt><dd>${time(task.received_at)}</dd>
      <dt>Started</dt><dd>${time(task.started_at)}</dd>
      <dt>Finished</dt><dd>${time(task.finished_at)}</dd>
      <dt>Runtime</dt><dd>${task.runtime != null ? `${task.runtime.toFixed(3)} s` : ''}</dd>
      <dt>Retries</dt><dd>${task.retries}</dd>
      <dt>Parent</dt><dd class="mono">${parent ? html`<a href=${`#/tasks/${parent.uuid}`}>${parent.name ?? ''} ${parent.uuid}</a>` : '—'}</dd>
      <dt>Root</dt><dd class="mono">${task.root_id && task.root_id !== task.uuid ? html`<a href=${`#/tasks/${task.root_id}`}>${task.root_id}</a>` : '—'}</dd>
      <dt>Children</dt>
      <dd class="mono">${children.length ? children.map((c) => html`<div><a href=${`#/tasks/${c.uuid}`}>${c.name ?? ''} ${c.uuid}</a> <${State} state=${c.state} /></div>`) : '—'}</dd>
    </dl>
    ${task.traceback && html`<h3>Traceback</h3><pre data-testid="traceback">${task.traceback}</pre>`}
    <h3>Timeline</h3>
    <table data-testid="timeline">
      <thead><tr><th>Time</th><th>Event</th><th>Worker</th><th>Details</th></tr></thead>
      <tbody>
        ${events.map((e) => {
          const f = JSON.parse(e.fields);
          const details = f.exception ?? (f.result !== undefined ? `result ${f.result}` : f.terminated ? 'terminated' : f.retries ? `retry ${f.retries}` : '');
          return html`<tr key=${e.id}><td>${new Date(e.timestamp).toLocaleTimeString()}</td><td>${e.type}</td><td class="mono">${e.hostname ?? ''}</td><td class="mono">${details}</td></tr>`;
        })}
      </tbody>
    </table>`;
}

/**
 * Beat's periodic schedules (polled: they change by edits, not by events), with pause, resume
 * and remove (runtime entries only), and the countdown/ETA tasks one queue's broker holds.
 */
function SchedulesPage() {
  const [data, setData] = useState(null);
  const [message, setMessage] = useState('');
  const load = useCallback(() => api('/api/schedules').then(setData, (e) => setData({ error: e.message, schedules: [] })), []);
  useEffect(() => {
    load();
    const timer = setInterval(load, 3000);
    return () => clearInterval(timer);
  }, [load]);
  const act = async (name, action) => {
    if (action === 'remove' && !confirm(`Remove the schedule ${name}?`)) return;
    try {
      await api(`/api/schedules/${encodeURIComponent(name)}${action === 'remove' ? '' : `/${action}`}`, { method: action === 'remove' ? 'DELETE' : 'POST' });
      setMessage(`${name}: ${action === 'remove' ? 'removed' : action === 'pause' ? 'paused' : 'resumed'}`);
    } catch (e) {
      setMessage(`${name}: ${e.message}`);
    }
    load();
  };
  if (!data) return html`<p>Loading…</p>`;
  return html`<h2>Schedules <span class="mono">${data.namespace ?? ''}</span></h2>
    ${data.error && html`<p class="notice">${data.error}</p>`}
    ${message && html`<p class="notice" data-testid="schedule-message">${message}</p>`}
    <table data-testid="schedules">
      <thead><tr><th>Name</th><th>Task</th><th>When</th><th>Queue</th><th>From</th><th>Status</th><th>Next run</th><th>Last run</th><th>Sent</th><th></th></tr></thead>
      <tbody>
        ${data.schedules.map(
          (e) => html`<tr key=${e.name} data-schedule=${e.name}>
            <td>${e.name}</td>
            <td class="mono">${e.task}</td>
            <td class="mono">${e.timing}${e.timezone ? ` (${e.timezone})` : ''}</td>
            <td>${e.queue ?? ''}</td>
            <td>${e.source}</td>
            <td>${e.paused ? 'paused' : 'active'}</td>
            <td>${e.paused ? '—' : time(e.nextRun)}</td>
            <td>${time(e.lastRun)}</td>
            <td>${e.fired}</td>
            <td>
              <button onClick=${() => act(e.name, e.paused ? 'resume' : 'pause')}>${e.paused ? 'Resume' : 'Pause'}</button>
              ${e.source === 'runtime' && html` <button class="danger" onClick=${() => act(e.name, 'remove')}>Remove</button>`}
            </td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${data.schedules.length === 0 && !data.error && html`<p>No schedules: add them in code (<code>app.schedule()</code>), in tq.config.json, or with <code>tq beat add</code>.</p>`}
    <${ScheduledTasks} />`;
}

/** The countdown/ETA tasks waiting in the broker for one queue (where the broker can list them). */
function ScheduledTasks() {
  const [queue, setQueue] = useState('');
  const [list, setList] = useState(null);
  useEffect(() => {
    api('/api/config').then((config) => setQueue(config.defaultQueue), () => undefined);
  }, []);
  useEffect(() => {
    if (!queue) return undefined;
    const load = () => api(`/api/queues/${encodeURIComponent(queue)}/scheduled?limit=100`).then(setList, (e) => setList({ error: e.message, scheduled: [] }));
    load();
    const timer = setInterval(load, 3000);
    return () => clearInterval(timer);
  }, [queue]);
  return html`<h3>Countdown and ETA tasks waiting in the broker</h3>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <label>queue <input aria-label="scheduled queue" value=${queue} onChange=${(e) => setQueue(e.target.value)} /></label>
    </form>
    ${list?.error && html`<p class="notice">${list.error}</p>`}
    <table data-testid="scheduled">
      <thead><tr><th>Due</th><th>Task</th><th>Id</th><th>Args</th><th>Kwargs</th></tr></thead>
      <tbody>
        ${(list?.scheduled ?? []).map(
          (t) => html`<tr key=${t.id} data-scheduled=${t.id}>
            <td>${t.eta ? new Date(t.eta).toLocaleString() : ''}</td>
            <td class="mono">${t.task ?? ''}</td>
            <td class="mono"><a href=${`#/tasks/${t.id}`}>${t.id}</a></td>
            <td class="mono">${t.argsrepr ?? ''}</td>
            <td class="mono">${t.kwargsrepr ?? ''}</td>
          </tr>`,
        )}
      </tbody>
    </table>`;
}

function TokenForm({ onDone }) {
  const [token, setToken] = useState('');
  return html`<form class="notice" onSubmit=${(e) => (e.preventDefault(), sessionStorage.setItem('tq-dashboard-token', token), onDone())}>
    This dashboard needs its token (<code>--token</code>): <input type="password" aria-label="token" value=${token} onInput=${(e) => setToken(e.target.value)} />
    <button type="submit">Sign in</button>
  </form>`;
}

function useRoute() {
  const [hash, setHash] = useState(location.hash || '#/tasks');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/tasks');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash.slice(1).split('/').filter(Boolean);
}

function Root() {
  const route = useRoute();
  const live = useLiveState();
  const [authorized, setAuthorized] = useState(null);
  useEffect(() => {
    api('/api/workers').then(
      () => setAuthorized(true),
      (e) => setAuthorized(!(e instanceof Unauthorized)),
    );
  }, []);
  useEffect(() => {
    if (authorized) void connectLive();
  }, [authorized]);
  const [page, id] = route;
  const link = (href, label, current) => html`<a href=${href} class=${current ? 'current' : ''}>${label}</a>`;
  return html`<header>
      <strong>tq dashboard</strong>
      ${link('#/workers', 'Workers', page === 'workers' || page === 'queues')} ${link('#/tasks', 'Tasks', page === 'tasks')}
      ${link('#/schedules', 'Schedules', page === 'schedules')}
      <span class="live" data-testid="live">${live}</span>
    </header>
    <main>
      ${authorized === false
        ? html`<${TokenForm} onDone=${() => location.reload()} />`
        : authorized === null
          ? ''
          : page === 'workers'
            ? html`<${WorkersPage} />`
            : page === 'schedules'
              ? html`<${SchedulesPage} />`
            : page === 'queues' && id && route[2] === 'dead'
              ? html`<${DeadLettersPage} queue=${decodeURIComponent(id)} key=${id} />`
              : page === 'tasks' && id
                ? html`<${TaskPage} id=${decodeURIComponent(id)} key=${id} />`
                : html`<${TasksPage} />`}
    </main>`;
}

render(html`<${Root} />`, document.getElementById('root'));
