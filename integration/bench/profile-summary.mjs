#!/usr/bin/env node
/**
 * Summarises a V8 CPU profile (node --cpu-prof) of a bench scenario: the functions with the most
 * self time, then tq's own functions by inclusive time, then who calls a chosen function. Reads a
 * sampling heap profile (profile-drain.mjs --heap-profile) the same way,
 * in bytes allocated instead of time.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof integration/bench/scenario.mjs '{"system":"tq","kind":"drain",…}'
 *   node integration/bench/profile-summary.mjs /tmp/prof/CPU.*.cpuprofile [--callers writeUtf8String]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { callers: { type: 'string' }, top: { type: 'string', default: '25' } } });
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const top = Number(values.top);
// A heap profile is a tree of nodes with their bytes; a CPU profile a node list with timed samples.
const heap = profile.head !== undefined;
const nodes = heap ? heapNodes(profile.head) : profile.nodes;
const byId = new Map(nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of nodes) for (const c of n.children ?? []) parent.set(typeof c === 'number' ? c : c.id, n.id);
const name = (n) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^(file:\/\/)?\/.*?\/(packages|node_modules|integration)\//, '$2/')}:${n.callFrame.lineNumber + 1}`;

function heapNodes(head) {
  const all = [];
  const visit = (n) => {
    all.push(n);
    for (const c of n.children) visit(c);
  };
  visit(head);
  return all;
}

const self = new Map();
const inclusive = new Map();
const nodeTime = new Map();
const weights = heap ? nodes.map((n) => [n.id, n.selfSize]) : profile.samples.map((id, i) => [id, profile.timeDeltas[i] ?? 0]);
weights.forEach(([id, dt]) => {
  nodeTime.set(id, (nodeTime.get(id) ?? 0) + dt);
  const key = name(byId.get(id));
  self.set(key, (self.get(key) ?? 0) + dt);
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const k = name(byId.get(at));
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
  }
});
const total = [...self.values()].reduce((a, b) => a + b, 0);
// Time in µs shown as ms; bytes shown as KB.
const unit = heap ? 'KB' : 'ms';
const amount = (v) => `${(heap ? v / 1024 : v / 1000).toFixed(0).padStart(7)} ${unit}`;
const row = ([k, v]) => `${amount(v)} ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`;
console.log(heap ? `profile: ${(total / 1048576).toFixed(1)} MB sampled` : `profile: ${(total / 1000).toFixed(0)} ms sampled`);
console.log(heap ? '\nself (allocated here)' : '\nself time');
for (const entry of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(row(entry));
console.log(heap ? '\ninclusive (allocated here or below), tq packages' : '\ninclusive time, tq packages');
for (const entry of [...inclusive].filter(([k]) => k.includes('packages/')).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(row(entry));
if (values.callers) {
  console.log(`\ncall paths into ${values.callers}`);
  const paths = new Map();
  for (const n of nodes) {
    if (n.callFrame.functionName !== values.callers) continue;
    const chain = [];
    for (let at = parent.get(n.id); at !== undefined && chain.length < 10; at = parent.get(at)) chain.push(name(byId.get(at)));
    const k = chain.join('\n      < ');
    paths.set(k, (paths.get(k) ?? 0) + (nodeTime.get(n.id) ?? 0));
  }
  for (const [k, v] of [...paths].sort((a, b) => b[1] - a[1]).slice(0, 5)) console.log(`${amount(v)}\n      < ${k}`);
}
