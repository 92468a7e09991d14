import type { JsMsg } from '@nats-io/jetstream';
import { headerLine } from './headers.js';

/**
 * Durable countdown/ETA on JetStream 2.9+ without a scheduler: a delayed message is published
 * to its queue's subject at once with a Tq-Not-Before header (epoch ms). The consumer that
 * first receives it before that time naks it with the remaining delay (JetStream's
 * NAK {"delay"}), so the server keeps it in the stream and redelivers it when due to any
 * worker of the durable consumer; core never sees it early and no worker holds it. The message
 * is in the stream from the publish on (replicated, kept across restarts); the delay timer is
 * the consumer's redelivery state, and a message whose timer was lost (a server restart) is
 * simply delivered again and naked again with what remains. Cost: one extra delivery and nak
 * per delayed message. Precision: the server's redelivery timer, a few ms.
 */
export const notBeforeHeader = 'Tq-Not-Before';

/** Delivered this close to its time, a message is handed over: a nak round trip costs more. */
const earlyToleranceMs = 2;

/** `block`: the message's raw header block when there is one (rawHeaderBlock), read instead of `msg.headers`. */
export function notBeforeOf(msg: JsMsg, block?: string): number | undefined {
  const raw = block === undefined ? msg.headers?.get(notBeforeHeader) : headerLine(block, notBeforeHeader);
  if (!raw) return undefined;
  const notBefore = Number(raw);
  return Number.isFinite(notBefore) ? notBefore : undefined;
}

/**
 * The longest single nak delay. The server takes the delay in nanoseconds as a signed 64-bit
 * integer: an ETA ~292 years away overflows it and the message came straight back, thousands of
 * times a second. A longer wait is several naks, each re-checked when the message comes back.
 */
export const maxNakDelayMs = 24 * 60 * 60 * 1000;

/** Naks `msg` with its remaining delay (at most maxNakDelayMs at a time) when it came early; true when it did. */
export function deferIfEarly(msg: JsMsg, notBefore: number): boolean {
  const remaining = notBefore - Date.now();
  if (remaining <= earlyToleranceMs) return false;
  msg.nak(Math.min(remaining, maxNakDelayMs));
  return true;
}
