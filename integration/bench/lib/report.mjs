// The side-by-side tables and the target summary printed at the end of `npm run bench`.

const fmtRate = (r) => (r?.ok ? `${Math.round(r.rate).toLocaleString('en-US')} tasks/s${r.completed !== undefined && r.completed < r.expected ? ` (partial ${r.completed}/${r.expected})` : ''}` : r ? 'failed' : '—');
const fmtMs = (v) => (Number.isFinite(v) ? `${v < 10 ? v.toFixed(1) : Math.round(v)} ms` : '—');
const fmtLatency = (r) => (r?.ok ? `${fmtMs(r.p50)} / ${fmtMs(r.p99)}${r.samples < r.expected ? ` (${r.samples}/${r.expected} done)` : ''}` : r ? 'failed' : '—');
const ratio = (a, b) => (a?.ok && b?.ok && b.rate > 0 ? a.rate / b.rate : undefined);
const fmtRatio = (x) => (x === undefined ? '—' : `${x.toFixed(2)}×`);

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  │  ')}`;
  return [line(header), `  ${widths.map((w) => '─'.repeat(w)).join('──┼──')}`, ...rows.map(line)].join('\n');
}

/** Scenario label of a plan entry: "enqueue", "drain c=10 ignored", "latency 200/s". */
export function label(s) {
  if (s.kind === 'enqueue') return `enqueue ${s.tasks / 1000}k`;
  if (s.kind === 'drain') return `drain ${s.tasks / 1000}k c=${s.concurrency} results ${s.results}`;
  return `latency p50/p99 @${s.rate}/s c=${s.concurrency}`;
}

/** One row per scenario: [label, tq, BullMQ?, raw, tq/BullMQ?, tq/raw] as display strings. */
function rows(mine, hasBull) {
  const labels = [...new Set(mine.map((r) => label(r.spec)))];
  const find = (system, l) => mine.find((r) => r.spec.system === system && label(r.spec) === l)?.figures;
  return labels.map((l) => {
    const [tq, bull, raw] = [find('tq', l), find('bullmq', l), find('raw', l)];
    if (l.startsWith('latency')) return [l, fmtLatency(tq), ...(hasBull ? [fmtLatency(bull)] : []), fmtLatency(raw), ...(hasBull ? ['—'] : []), '—'];
    return [l, fmtRate(tq), ...(hasBull ? [fmtRate(bull)] : []), fmtRate(raw), ...(hasBull ? [fmtRatio(ratio(tq, bull))] : []), fmtRatio(ratio(tq, raw))];
  });
}

/** The same tables in Markdown, for docs/benchmarks.md. */
export function markdownTables(results, brokers) {
  const out = [];
  for (const broker of brokers) {
    const mine = results.filter((r) => r.spec.broker === broker);
    if (mine.length === 0) continue;
    const hasBull = mine.some((r) => r.spec.system === 'bullmq');
    const header = ['scenario', 'tq', ...(hasBull ? ['BullMQ'] : []), 'raw client', ...(hasBull ? ['tq/BullMQ'] : []), 'tq/raw'];
    out.push(`**${broker}**`, '', `| ${header.join(' | ')} |`, `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`);
    for (const row of rows(mine, hasBull)) out.push(`| ${row.join(' | ')} |`);
    out.push('');
  }
  return out.join('\n');
}

/**
 * Prints one table per broker and returns the target checks:
 * [{ broker, scenario, target, value, met }].
 */
export function printReport(results, brokers) {
  const checks = [];
  for (const broker of brokers) {
    const mine = results.filter((r) => r.spec.broker === broker);
    if (mine.length === 0) continue;
    const hasBull = mine.some((r) => r.spec.system === 'bullmq');
    const find = (system, l) => mine.find((r) => r.spec.system === system && label(r.spec) === l)?.figures;
    for (const l of new Set(mine.map((r) => label(r.spec)))) {
      if (l.startsWith('latency')) continue;
      const vsRaw = ratio(find('tq', l), find('raw', l));
      checks.push({ broker, scenario: l, target: 'tq ≥ 0.5 × raw', value: vsRaw, met: vsRaw !== undefined && vsRaw >= 0.5 });
      if (hasBull && l.startsWith('drain')) {
        const vsBull = ratio(find('tq', l), find('bullmq', l));
        checks.push({ broker, scenario: l, target: 'tq ≥ 1.5 × BullMQ', value: vsBull, met: vsBull !== undefined && vsBull >= 1.5 });
      }
    }
    const header = ['scenario', 'tq', ...(hasBull ? ['BullMQ'] : []), 'raw client', ...(hasBull ? ['tq/BullMQ'] : []), 'tq/raw'];
    console.log(`\n${broker}\n${table(header, rows(mine, hasBull))}`);
  }
  if (checks.length) {
    console.log('\ntargets');
    for (const c of checks) console.log(`  ${c.met ? 'met    ' : 'NOT MET'}  ${c.broker.padEnd(5)}  ${c.scenario.padEnd(34)}  ${c.target.padEnd(18)}  ${fmtRatio(c.value)}`);
    const met = checks.filter((c) => c.met).length;
    console.log(`  ${met} of ${checks.length} targets met`);
  }
  const failed = results.filter((r) => !r.figures.ok);
  for (const r of failed) console.log(`  failed: ${r.spec.broker} ${r.spec.system} ${label(r.spec)}: ${r.figures.error}`);
  return checks;
}
