import type { App } from '../app.js';
import type { ResultBackendCapabilities } from '../backend/result-backend.js';
import type { RuntimeBackend } from '../backend/runtime-backend.js';
import type { Logger } from '../logger.js';
import type { TaskDefinition } from '../task.js';

/**
 * After an outcome record is stored: keeps only the newest N SUCCESS / FAILURE records of the
 * task name, and with `maxBytes` only as many of the newest as fit the byte budget
 * (TaskOptions.keepResults). Best effort: the outcome is already stored, so a failure here is
 * logged, never retried in the task's place.
 */
export function applyRetention(backend: RuntimeBackend | null, definition: TaskDefinition, taskId: string, status: 'SUCCESS' | 'FAILURE', logger: Logger): void {
  const keepResults = definition.options.keepResults;
  if (!keepResults || !backend?.retain) return;
  const keep = status === 'SUCCESS' ? keepResults.succeeded : keepResults.failed;
  // A backend without retainBytes was warned about at worker start; its count limit still applies.
  const maxBytes = backend.capabilities.retainBytes ? keepResults.maxBytes : undefined;
  if (keep === undefined && maxBytes === undefined) return;
  backend.retain(`${definition.name}:${status}`, taskId, keep ?? null, maxBytes).catch((error: unknown) => {
    logger.warn(`could not apply keepResults to ${definition.name}: ${(error as Error).message}`);
  });
}

/**
 * Warns at worker start about keepResults its result backend cannot enforce (only the TTL then
 * bounds those records), rather than leaving the records to grow unnoticed.
 */
export function warnUnenforcedRetention(app: App, capabilities: ResultBackendCapabilities | null, logger: Logger): void {
  for (const task of app.tasks.values()) {
    const keep = task.options.keepResults;
    if (!keep) continue;
    const counted = keep.succeeded !== undefined || keep.failed !== undefined;
    if (counted && !capabilities?.retain) {
      logger.warn(`task ${task.name}: keepResults counts are not enforced: the result backend ${capabilities ? 'cannot trim records (capabilities.retain)' : 'is not configured'}; only resultTtlMs bounds them`);
    }
    if (keep.maxBytes !== undefined && !capabilities?.retainBytes) {
      logger.warn(`task ${task.name}: keepResults.maxBytes is not enforced: the result backend ${capabilities ? 'keeps no record sizes (capabilities.retainBytes: memory, redis)' : 'is not configured'}; only ${counted ? 'the counts and ' : ''}resultTtlMs bound them`);
    }
  }
}
