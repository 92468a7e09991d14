/**
 * `--adapter PKG` (or `--adapter=PKG`), accepted by every tq command, anywhere after the
 * command name and repeatable: each package joins $TQ_ADAPTERS, which the app's config reads.
 * Returns argv without those flags.
 */
export function takeAdapterFlags(argv: readonly string[], env: NodeJS.ProcessEnv): string[] {
  const rest: string[] = [];
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg === '--adapter' && i > 0) {
      const value = argv[i + 1];
      if (value !== undefined && !value.startsWith('-')) {
        names.push(value);
        i++;
        continue;
      }
    } else if (arg.startsWith('--adapter=') && i > 0) {
      names.push(arg.slice('--adapter='.length));
      continue;
    }
    rest.push(arg);
  }
  if (names.length) env['TQ_ADAPTERS'] = [env['TQ_ADAPTERS'], ...names].filter(Boolean).join(',');
  return rest;
}
