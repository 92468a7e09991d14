/**
 * @tq/dashboard — tq's web UI: workers, tasks (search, live), task detail with timeline and
 * progress, and actions (revoke, terminate, retry, purge), over a durable SQLite history of the
 * Celery events on the app's broker. Started by `tq dashboard` or `startDashboard({ app })`.
 */
export { startDashboard, type Dashboard, type DashboardOptions } from './dashboard.js';
export { HistoryStore, type TaskRow, type TaskEventRow, type WorkerRow, type TaskQuery, type RetentionOptions } from './history-store.js';
export { isWorkerOnline } from './worker-liveness.js';
export { resolveAuth, isLoopback, type AuthOptions } from './auth.js';
export { parsePythonLiteral } from './python-literal.js';
