/** Celery's task states. Custom states (e.g. 'PROGRESS') are any other upper-case string. */
export const TaskState = {
  PENDING: 'PENDING',
  RECEIVED: 'RECEIVED',
  STARTED: 'STARTED',
  PROGRESS: 'PROGRESS',
  RETRY: 'RETRY',
  FAILURE: 'FAILURE',
  SUCCESS: 'SUCCESS',
  REVOKED: 'REVOKED',
  REJECTED: 'REJECTED',
} as const;

export type KnownTaskState = (typeof TaskState)[keyof typeof TaskState];
export type TaskStateName = KnownTaskState | (string & {});

/** States after which nothing more happens to a task. */
export const readyStates: ReadonlySet<string> = new Set([TaskState.SUCCESS, TaskState.FAILURE, TaskState.REVOKED, TaskState.REJECTED]);
export const exceptionStates: ReadonlySet<string> = new Set([TaskState.FAILURE, TaskState.RETRY, TaskState.REVOKED, TaskState.REJECTED]);
