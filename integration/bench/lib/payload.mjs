// The bytes the raw-client baselines move: a real tq protocol v2 message (built once with
// core's encoder), so a baseline publishes what tq publishes minus tq's per-message work.
import { randomUUID } from 'node:crypto';
import { encodeTaskMessage, jsonSerializer } from '@tq/core';

export const noopTask = 'bench.noop';

const filler = 'lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. '.repeat(1000);

let runPayloadBytes = 0;

/** Sets the payload size of this process's run (scenario.mjs, from the spec's payloadBytes). */
export function usePayloadBytes(bytes) {
  runPayloadBytes = bytes ?? 0;
}

/**
 * The arguments of task i: [i, i + 1] plus, with `payloadBytes`, a text argument sized so the
 * arguments serialize to about `payloadBytes` of JSON (the default 300 is the size of a small real
 * task: an id, a few fields). tq and every anchor send these same arguments.
 */
export function taskArgs(i, payloadBytes = runPayloadBytes) {
  if (!payloadBytes) return [i, i + 1];
  return [i, i + 1, filler.slice(0, Math.max(0, payloadBytes - 10))]; // 10 = JSON.stringify([0,1,""]).length
}

/** One Celery protocol v2 message for bench.noop(1, 2, filler?), as tq's producer encodes it. */
export function sampleMessage(payloadBytes = runPayloadBytes) {
  const id = randomUUID();
  return encodeTaskMessage(
    {
      id,
      task: noopTask,
      args: taskArgs(1, payloadBytes),
      kwargs: {},
      retries: 0,
      eta: null,
      expires: null,
      timeLimit: { soft: null, hard: null },
      rootId: id,
      parentId: null,
      group: null,
      groupIndex: null,
      origin: `${process.pid}@bench`,
      ignoreResult: true,
      shadow: null,
      priority: 0,
    },
    jsonSerializer,
  );
}

/** kombu's Redis envelope for a message (the JSON text LPUSHed on the queue list). */
export function redisEnvelope(message, queue) {
  return JSON.stringify({
    body: Buffer.from(message.body).toString('base64'),
    'content-encoding': message.properties.contentEncoding,
    'content-type': message.properties.contentType,
    headers: message.headers,
    properties: {
      correlation_id: message.properties.correlationId,
      delivery_mode: 2,
      delivery_info: { exchange: '', routing_key: queue },
      priority: 0,
      body_encoding: 'base64',
      delivery_tag: randomUUID(),
    },
  });
}

/** A Celery SUCCESS result record, the bytes a result backend stores per task. */
export function resultRecord(id) {
  return JSON.stringify({ status: 'SUCCESS', result: null, traceback: null, children: [], date_done: new Date().toISOString().replace('Z', '000'), task_id: id });
}

/** Result keys as Celery's key-value backends name them. */
export const resultKey = (id) => `celery-task-meta-${id}`;
