/** Test-title suffixes: a skipped test shows which capability or hook it needs. */
export const needs = {
  capability: (expression: string) => `(capability: ${expression})`,
  cut: '(needs: cutConnection hook or fault proxy)',
  proxy: '(needs: fault proxy, i.e. a host:port broker URL)',
  restart: '(needs: restartBroker hook or fault proxy)',
  liveness: '(needs: fault proxy, liveness not disabled)',
} as const;
