import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, type Worker } from '@tq/core';
import { WorkerMetrics } from './worker-metrics.js';

export interface HealthServerOptions {
  readonly port: number;
  /** Default 0.0.0.0 (scraped from other hosts, as Prometheus does). */
  readonly host?: string;
  readonly metrics?: WorkerMetrics;
}

/**
 * A worker's HTTP endpoints for orchestrators and Prometheus (`tq worker --metrics-port`):
 * `/metrics` (WorkerMetrics), `/healthz` (200 while the process serves), `/readyz` (200 while
 * the worker runs, 503 before start and once it stops, so a rolling deploy drains it).
 * Node's own http module: three fixed routes need no framework.
 */
export class HealthServer {
  readonly metrics: WorkerMetrics;
  readonly #server: Server;

  private constructor(server: Server, metrics: WorkerMetrics) {
    this.#server = server;
    this.metrics = metrics;
  }

  static async start(worker: Worker, options: HealthServerOptions): Promise<HealthServer> {
    const metrics = options.metrics ?? new WorkerMetrics(worker);
    const server = createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0];
      if (path === '/metrics') {
        metrics.metrics().then(
          (text) => response.writeHead(200, { 'content-type': metrics.contentType }).end(text),
          (error: unknown) => response.writeHead(500).end(String(error)),
        );
      } else if (path === '/healthz') {
        response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        const ready = worker.state === 'running';
        response.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(`${worker.state}\n`);
      } else {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /healthz or /readyz\n');
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'EADDRINUSE' ? new ConfigError([{ path: 'metricsPort', message: `port ${options.port} is already in use: pick another with --metrics-port` }], { cause: error }) : error),
      );
      server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
    });
    return new HealthServer(server, metrics);
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
