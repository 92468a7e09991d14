import { readFileSync } from 'node:fs';

/** @tq/core's version, read once from its package.json (reported as sw_ver in worker events and stats). */
export const coreVersion: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
