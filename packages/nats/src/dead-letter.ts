import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { Subjects } from './subjects.js';

/** Why a message left its queue, and from where; read with `nats stream view TQ_DLQ`. */
export const deadReasonHeader = 'Tq-Dead-Reason';
export const deadQueueHeader = 'Tq-Dead-Queue';
export const deadSequenceHeader = 'Tq-Dead-Stream-Seq';

/**
 * Copies a delivery to the dead-letter stream with its original headers and body plus the
 * reason, and resolves once the stream has it. The caller acks the original only after that,
 * so a crash in between leaves a duplicate dead letter at worst, never a lost one; the
 * Nats-Msg-Id (stream sequence of the original) drops such a duplicate within the window.
 */
export async function deadLetter(js: JetStreamClient, subjects: Subjects, queue: string, msg: JsMsg, reason: string): Promise<void> {
  const h = natsHeaders();
  for (const key of msg.headers?.keys() ?? []) {
    if (key.startsWith('Nats-')) continue;
    for (const value of msg.headers!.values(key)) h.append(key, value);
  }
  h.set(deadReasonHeader, reason.replace(/[\r\n]+/g, ' '));
  h.set(deadQueueHeader, queue);
  h.set(deadSequenceHeader, String(msg.seq));
  const target = subjects.route(subjects.deadLetterQueue(queue));
  await js.publish(target.subject, msg.data, {
    headers: h,
    msgID: `dead:${msg.info.stream}:${msg.seq}`,
    expect: { streamName: target.stream },
  });
}
