/**
 * A Python-style repr of task arguments for the argsrepr/kwargsrepr headers, so Celery
 * tooling (Flower, events, logs) shows tq's tasks as it shows its own. Truncated like Celery's
 * saferepr: nested containers past a depth print as [...] / {...}.
 */
export function argsRepr(args: readonly unknown[]): string {
  return args.length === 1 ? `(${repr(args[0], 0)},)` : `(${args.map((a) => repr(a, 0)).join(', ')})`;
}

export function kwargsRepr(kwargs: Readonly<Record<string, unknown>>): string {
  return repr(kwargs, 0);
}

const maxDepth = 2;

function repr(value: unknown, depth: number): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : value > 0 ? 'inf' : value < 0 ? '-inf' : 'nan';
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
  if (typeof value === 'bigint') return String(value);
  if (value instanceof Date) return `'${value.toISOString()}'`;
  if (Array.isArray(value)) return depth >= maxDepth ? '[...]' : `[${value.map((v) => repr(v, depth + 1)).join(', ')}]`;
  if (typeof value === 'object') {
    if (depth >= maxDepth) return '{...}';
    return `{${Object.entries(value).map(([k, v]) => `${repr(k, depth + 1)}: ${repr(v, depth + 1)}`).join(', ')}}`;
  }
  return `'${String(value)}'`;
}
