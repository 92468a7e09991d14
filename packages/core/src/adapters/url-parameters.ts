import { nearest } from './resolve.js';

/**
 * For each query parameter of `url` the adapter does not read, a message naming the nearest
 * known one: a misspelt option (`visiblity_timeout`) would otherwise be ignored and its default
 * used in silence. Every first-party adapter calls it while parsing its URL, so the check and
 * its wording live here once; third-party adapters should do the same.
 */
export function unknownUrlParameters(url: URL, known: readonly string[]): { readonly parameter: string; readonly message: string }[] {
  const unknown: { parameter: string; message: string }[] = [];
  for (const parameter of new Set(url.searchParams.keys())) {
    if (known.includes(parameter)) continue;
    const suggestion = nearest(parameter, known);
    unknown.push({
      parameter,
      message: `unknown URL option "${parameter}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; known: ${[...known].sort().join(', ')}`,
    });
  }
  return unknown;
}
