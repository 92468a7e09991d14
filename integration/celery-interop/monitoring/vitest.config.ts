import { defineConfig, mergeConfig } from 'vitest/config';
import base from '../../../vitest.config.base.js';

// Celery monitoring interop (events, remote control) on Redis and RabbitMQ: `cd integration/celery-interop/monitoring && npx vitest run`.
export default mergeConfig(
  base,
  defineConfig({
    test: {
      include: ['*.test.ts'],
      // Each file spawns Python processes; running files one at a time keeps 2 cores responsive.
      fileParallelism: false,
    },
  }),
);
