#!/usr/bin/env node
// Prints the tables of a saved run (npm run bench -- --json FILE) as Markdown, for docs/benchmarks.md:
//   node integration/bench/to-markdown.mjs /tmp/bench.json
import { readFileSync } from 'node:fs';
import { brokerNames } from './lib/endpoints.mjs';
import { markdownTables } from './lib/report.mjs';

const run = JSON.parse(readFileSync(process.argv[2], 'utf8'));
console.log(`${run.date}, Node ${run.node}, ${run.cpus} × ${run.cpu}; ${run.tasks} tasks per enqueue/drain, latency for ${run.latencySeconds} s\n`);
console.log(markdownTables(run.results, brokerNames));
