export { tracing, type TracingOptions } from './tracing.js';
export { WorkerMetrics, type WorkerMetricsOptions } from './worker-metrics.js';
export { HealthServer, type HealthServerOptions } from './health-server.js';
export { createJsonLogger, type JsonLoggerOptions } from './json-logger.js';
