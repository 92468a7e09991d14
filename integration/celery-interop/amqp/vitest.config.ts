import { defineConfig, mergeConfig } from 'vitest/config';
import base from '../../../vitest.config.base.js';

// Celery interop on RabbitMQ. Run from this directory: npx vitest run
export default mergeConfig(
  base,
  defineConfig({ test: { include: ['*.test.ts'], testTimeout: 25_000, hookTimeout: 40_000, fileParallelism: false } }),
);
