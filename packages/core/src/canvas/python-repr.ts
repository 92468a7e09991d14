/** Python's repr() of a JSON value, as Celery writes it into ChordError messages. */
export function pythonRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(value);
  if (typeof value === 'string') {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    const escaped = value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
    return quote + (quote === "'" ? escaped.replace(/'/g, "\\'") : escaped) + quote;
  }
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`;
  if (typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>).map(([k, v]) => `${pythonRepr(k)}: ${pythonRepr(v)}`).join(', ')}}`;
  }
  return String(value);
}

/** repr() of an exception from its Celery exception info: ValueError('boom'). */
export function exceptionInfoRepr(info: unknown): string {
  if (info && typeof info === 'object' && typeof (info as { exc_type?: unknown }).exc_type === 'string') {
    const { exc_type, exc_message } = info as { exc_type: string; exc_message: unknown };
    const args = Array.isArray(exc_message) ? exc_message : [exc_message];
    return `${exc_type}(${args.map(pythonRepr).join(', ')})`;
  }
  return pythonRepr(info);
}
