import { ConfigError } from '../errors.js';
import { scheduleIssues, type ScheduleDefinition } from './schedule-entry.js';

/** Throws one ConfigError listing every problem of `definition`. */
export function assertSchedule(name: string, definition: unknown, path?: string): asserts definition is ScheduleDefinition {
  const issues = scheduleIssues(name, definition, path);
  if (issues.length) throw new ConfigError(issues);
}
