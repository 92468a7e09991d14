import type { Delivery } from '../broker/broker.js';
import type { BrokerCapabilities } from '../broker/capabilities.js';
import type { Logger } from '../logger.js';

/**
 * Keeps an unacked delivery from being redelivered while the worker still owns it (a running
 * task, a held ETA task): calls delivery.extend() every third of the broker's redelivery
 * window. A dead worker stops extending, so its tasks come back after one window.
 * Returns the function that stops the lease.
 */
export function keepAlive(delivery: Delivery, capabilities: BrokerCapabilities, logger: Logger): () => void {
  const window = capabilities.redeliveryWindowMs;
  if (window === null || !delivery.extend) return () => undefined;
  const timer = setInterval(
    () => {
      delivery.extend!().catch((error: unknown) => logger.warn(`could not extend a delivery's lease: ${(error as Error).message}`));
    },
    Math.max(20, Math.floor(window / 3)),
  );
  timer.unref();
  return () => clearInterval(timer);
}
