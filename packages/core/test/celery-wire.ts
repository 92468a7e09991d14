import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrokerMessage, MessageHeaders } from '../src/adapter.js';

/** The Celery 5.2.6 / kombu 5.2.4 captures of sent tasks (`*-send-*.json`, copied from shared/celery-wire) as broker messages. */
export const wireDir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'celery-wire');

export interface CapturedMessage {
  readonly file: string;
  readonly scenario: string;
  readonly python: string;
  readonly queue: string;
  readonly message: BrokerMessage;
}

interface RawProperties {
  content_type: string;
  content_encoding: string;
  correlation_id?: string;
  reply_to?: string;
  priority?: number;
  delivery_mode?: 1 | 2;
  headers?: MessageHeaders;
}

function toMessage(body: Buffer, headers: MessageHeaders, p: RawProperties): BrokerMessage {
  return {
    body: new Uint8Array(body),
    headers,
    properties: {
      contentType: p.content_type,
      contentEncoding: p.content_encoding,
      ...(p.correlation_id !== undefined ? { correlationId: p.correlation_id } : {}),
      ...(p.reply_to !== undefined ? { replyTo: p.reply_to } : {}),
      ...(p.priority !== undefined ? { priority: p.priority } : {}),
      ...(p.delivery_mode !== undefined ? { deliveryMode: p.delivery_mode } : {}),
    },
  };
}

export function capturedTaskMessages(): CapturedMessage[] {
  const out: CapturedMessage[] = [];
  for (const file of readdirSync(wireDir).filter((f) => /-send-.*\.json$/.test(f)).sort()) {
    const capture = JSON.parse(readFileSync(join(wireDir, file), 'utf8'));
    const base = { file, scenario: capture.scenario as string, python: capture.python as string };
    if (capture.broker === 'redis') {
      for (const [key, entry] of Object.entries(capture.redis_keys as Record<string, { type: string; value: unknown }>)) {
        if (entry.type !== 'list') continue;
        for (const raw of entry.value as string[]) {
          const envelope = JSON.parse(raw);
          const p = envelope.properties;
          out.push({
            ...base,
            queue: key,
            message: toMessage(Buffer.from(envelope.body, 'base64'), envelope.headers, {
              ...p,
              content_type: envelope['content-type'],
              content_encoding: envelope['content-encoding'],
            }),
          });
        }
      }
    } else {
      for (const [queue, messages] of Object.entries((capture.messages ?? {}) as Record<string, { content_header: { properties: RawProperties }; body_base64: string }[]>)) {
        for (const m of messages) {
          const p = m.content_header.properties;
          if (!p.headers || !('task' in p.headers)) continue; // events, not tasks
          out.push({ ...base, queue, message: toMessage(Buffer.from(m.body_base64, 'base64'), p.headers, p) });
        }
      }
    }
  }
  return out;
}
