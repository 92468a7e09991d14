import type { RuntimeBackend } from '../backend/runtime-backend.js';
import type { Logger } from '../logger.js';
import type { TaskDefinition } from '../task.js';

/**
 * After an outcome record is stored: keeps only the newest N SUCCESS / FAILURE records of the
 * task name (TaskOptions.keepResults). Best effort: the outcome is already stored, so a failure
 * here is logged, never retried in the task's place.
 */
export function applyRetention(backend: RuntimeBackend | null, definition: TaskDefinition, taskId: string, status: 'SUCCESS' | 'FAILURE', logger: Logger): void {
  const keep = status === 'SUCCESS' ? definition.options.keepResults?.succeeded : definition.options.keepResults?.failed;
  if (keep === undefined || !backend?.retain) return;
  backend.retain(`${definition.name}:${status}`, taskId, keep).catch((error: unknown) => {
    logger.warn(`could not apply keepResults to ${definition.name}: ${(error as Error).message}`);
  });
}
