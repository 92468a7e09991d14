#!/usr/bin/env node
// Prints the tables of a saved run (npm run bench -- --json FILE) as Markdown, for docs/benchmarks.md:
//   node integration/bench/to-markdown.mjs /tmp/bench.json
// A --pairs run gives the headline table, a --scale run the scale-out table, any other the per-broker tables.
import { readFileSync } from 'node:fs';
import { brokerNames } from './lib/endpoints.mjs';
import { pairsTable, scaleTable } from './lib/pairs-report.mjs';
import { markdownTables } from './lib/report.mjs';

const run = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const about = `${run.date}, Node ${run.node}, ${run.cpus} × ${run.cpu}; ${run.tasks} tasks per enqueue/drain, payload ${run.payloadBytes ?? 0} bytes`;
if (run.cases) console.log(`${about}, ${run.pairCount} interleaved pairs per case, noisy above ${run.noiseCores} cores\n\n${pairsTable(run.cases)}`);
else if (run.scale) console.log(`${about}\n\n${scaleTable(run.scale)}`);
else console.log(`${about}, latency for ${run.latencySeconds} s\n\n${markdownTables(run.results, brokerNames)}`);
