import { randomUUID } from 'node:crypto';
import { createApp, type App, type TqConfig } from '../src/index.js';
import { createMemoryAdapter } from '../src/memory/index.js';

/** An app on its own memory:// namespace, with logs silenced, closed by the caller. */
export function memoryApp(config: TqConfig = {}): App {
  const name = `t${randomUUID().slice(0, 8)}`;
  return createApp({
    broker: `memory://${name}`,
    resultBackend: `memory://${name}`,
    adapters: [createMemoryAdapter()],
    logLevel: 'silent',
    ...config,
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
