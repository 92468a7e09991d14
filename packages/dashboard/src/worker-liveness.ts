/** Heartbeat interval assumed when a worker's events carry no `freq` (Celery's default, 2 s). */
export const defaultHeartbeatSeconds = 2;

/**
 * Celery's rule (celery.events.state.heartbeat_expires, expire_window 200 %): a worker is online
 * until two heartbeat intervals (freq × 2) pass without a heartbeat, or once it says
 * worker-offline. A heartbeat after an offline event brings it back.
 */
export function isWorkerOnline(worker: { last_heartbeat: number | null; freq: number | null; offline_at: number | null }, now: number): boolean {
  if (worker.last_heartbeat === null) return false;
  if (worker.offline_at !== null && worker.offline_at >= worker.last_heartbeat) return false;
  const freqMs = (worker.freq ?? defaultHeartbeatSeconds) * 1000;
  return now < worker.last_heartbeat + freqMs * 2;
}
