/**
 * Reads an adapter's declared capabilities while tests are being collected (so tests can be
 * gated with it.skipIf), once per factory. The probe instance is never connected, only closed.
 * If the factory rejects the URL, `fallback` is used: every test calls the factory again and
 * fails with its error.
 */
export function probeCapabilities<F extends (url: URL) => { readonly capabilities: C; close(): Promise<void> }, C>(
  cache: WeakMap<F, C>,
  factory: F,
  url: URL,
  fallback: C,
): C {
  let capabilities = cache.get(factory);
  if (!capabilities) {
    try {
      const probe = factory(url);
      capabilities = probe.capabilities;
      void Promise.resolve()
        .then(() => probe.close())
        .catch(() => undefined);
    } catch {
      capabilities = fallback;
    }
    cache.set(factory, capabilities);
  }
  return capabilities;
}
