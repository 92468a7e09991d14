import type { Broker, Delivery } from '../broker/broker.js';
import type { Logger } from '../logger.js';

/** Headers core adds to a dead-lettered message: why, and where it came from. */
export const deadLetterHeaders = {
  reason: 'x-tq-dead-reason',
  code: 'x-tq-dead-code',
  queue: 'x-tq-original-queue',
  at: 'x-tq-dead-at',
} as const;

/**
 * Moves a message no worker should run again to `<queue><suffix>` with the reason in its
 * headers: publish the copy first, then ack the original, so a crash in between duplicates
 * the dead letter instead of losing it. With no suffix configured, or if the copy cannot be
 * published, the broker's own reject(false) is used (dead-lettered where it supports that).
 */
export async function deadLetter(
  broker: Broker,
  delivery: Delivery,
  queue: string,
  reason: { message: string; code: string },
  options: { suffix: string | null; logger: Logger },
): Promise<void> {
  if (options.suffix !== null && !queue.endsWith(options.suffix)) {
    try {
      const message = delivery.message;
      await broker.publish(`${queue}${options.suffix}`, {
        body: message.body,
        properties: message.properties,
        headers: {
          ...message.headers,
          [deadLetterHeaders.reason]: reason.message,
          [deadLetterHeaders.code]: reason.code,
          [deadLetterHeaders.queue]: queue,
          [deadLetterHeaders.at]: new Date().toISOString(),
        },
      });
      await delivery.ack();
      return;
    } catch (error) {
      options.logger.error(`could not publish to the dead-letter queue ${queue}${options.suffix}: ${(error as Error).message}; rejecting instead`);
    }
  }
  await delivery.reject(false);
}
