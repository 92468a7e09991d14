import { defineConfig, mergeConfig } from 'vitest/config';
import base from '../../../../vitest.config.base.js';

// Only for test/kit-catches-bugs.test.ts: runs the mutants, whose tests are meant to fail.
// `include` is set after the merge: mergeConfig would append the base's test/**/*.test.ts,
// and this run would then start kit-catches-bugs.test.ts again, recursively.
const config = mergeConfig(base, defineConfig({ test: { testTimeout: 20_000 } }));
config.test!.include = ['test/mutants/**/*.mutant.ts'];
export default config;
