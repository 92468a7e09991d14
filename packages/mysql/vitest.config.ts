import { defineConfig, mergeConfig } from 'vitest/config';
import base from '../../vitest.config.base.js';

// This package's tests run against a real server in integration/ (the conformance kit and the
// SQL result tests); it has no unit tests of its own yet.
export default mergeConfig(base, defineConfig({ test: { passWithNoTests: true } }));
