const unitMs: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * An `every` interval in ms: a number of ms, or a duration such as '30s', '5m', '1h30m', '1d',
 * '250ms'. Returns undefined when the text is not one (the caller reports where).
 */
export function parseInterval(every: string | number): number | undefined {
  if (typeof every === 'number') return Number.isFinite(every) && every > 0 ? every : undefined;
  const text = every.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d)\s*)+$/.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(amount) * unitMs[unit!]!;
  return total > 0 ? total : undefined;
}
