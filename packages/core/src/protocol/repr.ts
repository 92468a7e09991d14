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

/** repr() of one value, cut at `maxLength` characters as Celery's saferepr for event results (1024). */
export function valueRepr(value: unknown, maxLength = 1024): string {
  const text = repr(value, 0);
  return text.length > maxLength ? `${text.slice(0, maxLength - 3)}...` : text;
}

/** How Python's repr() shows an exception, "ValueError('boom')", for the exception field of events. */
export function exceptionRepr(error: unknown): string {
  if (error instanceof Error) return `${error.name}(${repr(error.message, 0)})`;
  return `Exception(${repr(String(error), 0)})`;
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
