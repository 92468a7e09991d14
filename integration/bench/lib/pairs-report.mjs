// Markdown tables of a --pairs run (the headline table of docs/benchmarks.md) and of a --scale run.
import { medianOf } from './pairs.mjs';

const int = (v) => (v === undefined ? '—' : Math.round(v).toLocaleString('en-US'));

/** One row per case: median rates, median ratio (range), target, CPU µs/task, peak RSS, noisy pairs. */
export function pairsTable(cases) {
  const rows = [
    '| case | tq | anchor | tq / anchor, median (range) | target | CPU µs/task tq / anchor (broker) | worker peak RSS MB tq / anchor | noisy pairs |',
    '| --- | ---: | ---: | --- | --- | --- | --- | ---: |',
  ];
  for (const c of cases) {
    const a = c.pairs.map((p) => p.a);
    const b = c.pairs.map((p) => p.b);
    const r = c.ratio;
    const ratio = r ? `**${r.median.toFixed(2)}×** (${r.min.toFixed(2)}–${r.max.toFixed(2)})` : 'no ratio';
    const met = r && r.median >= c.target ? 'met' : 'not met';
    const noisy = c.pairs.filter((p) => p.a.noisy || p.b.noisy).length;
    rows.push(
      `| ${c.name} | ${int(medianOf(a, 'rate'))}/s | ${c.anchor} ${int(medianOf(b, 'rate'))}/s | ${ratio} | ≥ ${c.target}×: ${met} | ${int(medianOf(a, 'cpuUsPerTask'))} (${int(medianOf(a, 'brokerCpuUsPerTask'))}) / ${int(medianOf(b, 'cpuUsPerTask'))} (${int(medianOf(b, 'brokerCpuUsPerTask'))}) | ${int(medianOf(a, 'peakRssMb'))} / ${int(medianOf(b, 'peakRssMb'))} | ${noisy}/${c.pairs.length} |`,
    );
  }
  return rows.join('\n');
}

export function scaleTable(scale) {
  const rows = ['| worker processes × concurrency | drain rate | CPU µs/task, workers | redis-server µs/task | others (cores) | noisy runs |', '| --- | ---: | ---: | ---: | ---: | ---: |'];
  for (const s of scale) rows.push(`| ${s.workers} × c=${s.concurrency} | ${int(s.rate)}/s | ${int(s.cpuUsPerTask)} | ${int(s.brokerCpuUsPerTask)} | ${s.otherCores?.toFixed(2) ?? '—'} | ${s.noisy}/${s.runs} |`);
  return rows.join('\n');
}
