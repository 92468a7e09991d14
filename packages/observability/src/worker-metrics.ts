import type { Worker } from '@tq/core';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Runtime buckets, seconds: from sub-millisecond tasks to a 10-minute batch job. */
const runtimeBuckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600];

export interface WorkerMetricsOptions {
  /** Where the metrics live. Default: a new registry. */
  readonly registry?: Registry;
  /** Add prom-client's process metrics (CPU, memory, event-loop lag, GC). Default true. */
  readonly processMetrics?: boolean;
}

/**
 * Prometheus metrics of one worker, fed by its events (so a worker without metrics pays
 * nothing). Names follow Prometheus conventions with the prefix `tq_`; every task metric has a
 * `task` label (the task name), queue metrics a `queue` label.
 *
 * | metric | type | what |
 * |---|---|---|
 * | tq_tasks_received_total{task,queue} | counter | messages taken from the broker |
 * | tq_tasks_succeeded_total / _failed_total / _retried_total / _revoked_total {task} | counter | outcomes |
 * | tq_tasks_rejected_total{queue} | counter | rejected or dead-lettered messages (malformed, unknown task, poison, Reject) |
 * | tq_task_runtime_seconds{task} | histogram | run time of finished tasks |
 * | tq_task_wait_seconds{task} | histogram | received → started: time held in the worker (prefetch, rate limit, ETA) |
 * | tq_consumer_restarts_total{queue} | counter | consumers the consuming watchdog restarted (stalled) |
 * | tq_tasks_active | gauge | tasks running now |
 * | tq_worker_concurrency, tq_worker_prefetch | gauge | the pool size and prefetch window |
 */
export class WorkerMetrics {
  readonly registry: Registry;
  readonly #received: Counter<'task' | 'queue'>;
  readonly #succeeded: Counter<'task'>;
  readonly #failed: Counter<'task'>;
  readonly #retried: Counter<'task'>;
  readonly #revoked: Counter<'task'>;
  readonly #rejected: Counter<'queue'>;
  readonly #consumerRestarts: Counter<'queue'>;
  readonly #runtime: Histogram<'task'>;
  readonly #wait: Histogram<'task'>;
  readonly #receivedAt = new Map<string, number>();

  constructor(worker: Worker, options: WorkerMetricsOptions = {}) {
    this.registry = options.registry ?? new Registry();
    const registers = [this.registry];
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.#received = new Counter({ name: 'tq_tasks_received_total', help: 'Task messages taken from the broker', labelNames: ['task', 'queue'], registers });
    this.#succeeded = new Counter({ name: 'tq_tasks_succeeded_total', help: 'Tasks that succeeded', labelNames: ['task'], registers });
    this.#failed = new Counter({ name: 'tq_tasks_failed_total', help: 'Tasks that failed for good', labelNames: ['task'], registers });
    this.#retried = new Counter({ name: 'tq_tasks_retried_total', help: 'Task runs that scheduled a retry', labelNames: ['task'], registers });
    this.#revoked = new Counter({ name: 'tq_tasks_revoked_total', help: 'Tasks revoked, expired or terminated', labelNames: ['task'], registers });
    this.#rejected = new Counter({ name: 'tq_tasks_rejected_total', help: 'Messages rejected or dead-lettered', labelNames: ['queue'], registers });
    this.#consumerRestarts = new Counter({ name: 'tq_consumer_restarts_total', help: 'Stalled consumers the consuming watchdog restarted', labelNames: ['queue'], registers });
    this.#runtime = new Histogram({ name: 'tq_task_runtime_seconds', help: 'Run time of finished tasks', labelNames: ['task'], buckets: runtimeBuckets, registers });
    this.#wait = new Histogram({ name: 'tq_task_wait_seconds', help: 'Time from receipt to start in the worker', labelNames: ['task'], buckets: runtimeBuckets, registers });
    new Gauge({ name: 'tq_tasks_active', help: 'Tasks running now', registers, collect() { this.set(worker.active); } });
    new Gauge({ name: 'tq_worker_concurrency', help: 'Executor pool size', registers, collect() { this.set(worker.concurrency); } });
    new Gauge({ name: 'tq_worker_prefetch', help: 'Unacked messages the worker may hold per queue', registers, collect() { this.set(worker.prefetch); } });

    worker.on('task-received', (e) => {
      this.#received.inc({ task: e.name, queue: e.queue });
      this.#receivedAt.set(e.id, performance.now());
    });
    worker.on('task-started', (e) => {
      const receivedAt = this.#receivedAt.get(e.id);
      this.#receivedAt.delete(e.id);
      if (receivedAt !== undefined) this.#wait.observe({ task: e.name }, (performance.now() - receivedAt) / 1000);
    });
    worker.on('task-succeeded', (e) => {
      this.#succeeded.inc({ task: e.name });
      this.#runtime.observe({ task: e.name }, e.runtimeMs / 1000);
    });
    worker.on('task-failed', (e) => {
      this.#failed.inc({ task: e.name });
      this.#runtime.observe({ task: e.name }, e.runtimeMs / 1000);
    });
    worker.on('task-retried', (e) => this.#retried.inc({ task: e.name }));
    worker.on('task-revoked', (e) => {
      this.#receivedAt.delete(e.id);
      this.#revoked.inc({ task: e.name });
    });
    worker.on('task-rejected', (e) => {
      if (e.id) this.#receivedAt.delete(e.id);
      this.#rejected.inc({ queue: e.queue });
    });
    worker.on('consumer-restarted', (e) => this.#consumerRestarts.inc({ queue: e.queue }));
  }

  /** The text exposition format Prometheus scrapes. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
