import { describe, expect, it } from 'vitest';
import { decodeTaskMessage } from '../src/protocol/decode.js';
import { encodeTaskMessage, requestToCall } from '../src/protocol/encode.js';
import type { TaskCall } from '../src/protocol/message.js';
import { TaskHeaders, pythonHeadersJson } from '../src/protocol/task-headers.js';
import { jsonSerializer, pythonJsonStringify } from '../src/serializer/json.js';
import { SerializerRegistry } from '../src/serializer/serializer.js';
import { capturedTaskMessages } from './celery-wire.js';

const registry = new SerializerRegistry([jsonSerializer], ['json']);
const jsonCaptures = capturedTaskMessages().filter((c) => c.message.properties.contentType === 'application/json');

/** The generic writer's text of the same members, from a plain copy. */
const genericText = (headers: object) => pythonJsonStringify({ ...headers });

const call = (changes: Partial<TaskCall> = {}): TaskCall => ({ id: 'a7c0e6f1-2b55-4a4e-9c57-3f0b0d4d9a11', task: 'reports.build', args: [1, 'two'], kwargs: { k: 3 }, ...changes });

describe("encodeTaskMessage's headers written from a template", () => {
  it.each(jsonCaptures.map((c, i) => [`${c.file} #${i}`, c] as const))('%s: the same text as the generic writer', (_, capture) => {
    const { headers: _passThrough, ...fields } = requestToCall(decodeTaskMessage(capture.message, registry));
    const { headers } = encodeTaskMessage(fields, jsonSerializer);
    expect(headers).toBeInstanceOf(TaskHeaders);
    expect(pythonHeadersJson(headers)).toBe(genericText(headers));
  });

  it('writes escapes, non-ASCII, times, numbers and every optional header as the generic writer does', () => {
    const calls: TaskCall[] = [
      call(),
      call({ task: 'rapports.générer', args: ['"quoted" \\ back\nslash', 'emoji 😀', '\u007f'], kwargs: { 'clé': 'ü' } }),
      call({ eta: new Date('2026-12-05T10:00:00.123Z'), expires: '2026-12-06T00:00:00.000000+00:00', retries: 3 }),
      call({ timeLimit: { soft: 1.5, hard: 30 }, group: 'g-1', groupIndex: 4, shadow: 'alias', origin: 'gen42@host', ignoreResult: true }),
      call({ rootId: 'root', parentId: 'parent', argsrepr: '(1, 2)', kwargsrepr: "{'a': 1}" }),
    ];
    for (const c of calls) {
      const { headers } = encodeTaskMessage(c, jsonSerializer);
      expect(headers).toBeInstanceOf(TaskHeaders);
      expect(pythonHeadersJson(headers)).toBe(genericText(headers));
    }
  });

  it('reads as a plain record: keys in Celery order, JSON, spreads', () => {
    const { headers } = encodeTaskMessage(call(), jsonSerializer);
    const keys = ['lang', 'task', 'id', 'shadow', 'eta', 'expires', 'group', 'group_index', 'retries', 'timelimit', 'root_id', 'parent_id', 'argsrepr', 'kwargsrepr', 'origin', 'ignore_result'];
    expect(Object.keys(headers)).toEqual(keys);
    expect(JSON.stringify(headers)).toBe(JSON.stringify({ ...headers }));
    const copy = { ...headers, 'x-extra': 1 };
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(pythonHeadersJson(copy)).toBe(pythonJsonStringify(copy));
    expect(pythonHeadersJson(copy)).toContain('"x-extra": 1}');
  });

  it('pass-through headers and a call without a task name go through the generic writer', () => {
    const withExtra = encodeTaskMessage(call({ headers: { traceparent: '00-abc-def-01' } }), jsonSerializer).headers;
    expect(withExtra).not.toBeInstanceOf(TaskHeaders);
    expect(pythonHeadersJson(withExtra)).toMatch(/^\{"traceparent": "00-abc-def-01", "lang": "py"/);
    // A JavaScript caller can leave the name out; the generic writer omits the member, as before.
    const nameless = encodeTaskMessage({ ...call(), task: undefined as unknown as string }, jsonSerializer).headers;
    expect(pythonHeadersJson(nameless)).toBe(pythonJsonStringify(nameless));
    expect(pythonHeadersJson(nameless)).not.toContain('"task"');
  });
});
