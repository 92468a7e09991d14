/**
 * A number that Python holds as a float, written as Python's json.dumps writes a float: `2.0`,
 * not `2`; `5e-05`, not `0.00005`. JSON has no float/int split and a JavaScript number has none
 * either, so a field Celery sends as a float (an event's timestamp, freq, loadavg, runtime) is
 * wrapped in this where it is written, so that tq's events are Celery's byte for byte.
 */
export class PythonFloat {
  constructor(readonly value: number) {}

  /** JSON.stringify (and tq's readers) see the plain number. */
  toJSON(): number {
    return this.value;
  }
}

/** float.__repr__: the shortest text that reads back, exponent below 1e-4 and from 1e16. */
export function pythonFloatText(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const magnitude = Math.abs(value);
  if (magnitude < 1e-4 || magnitude >= 1e16) {
    // Both languages pick the same shortest digits; Python signs the exponent and pads it to two.
    const [digits, exponent] = value.toExponential().split('e') as [string, string];
    const power = Number(exponent);
    return `${digits}e${power < 0 ? '-' : '+'}${String(Math.abs(power)).padStart(2, '0')}`;
  }
  return Number.isInteger(value) ? `${value}.0` : String(value);
}
