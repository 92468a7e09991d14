import type { HeaderValue, MessageHeaders } from '../broker/broker.js';
import { pythonJsonStringify, pythonJsonValue as json } from '../serializer/json.js';
import type { TaskCall } from './message.js';
import { argsRepr, kwargsRepr } from './repr.js';

/**
 * Celery's sixteen protocol v2 headers of a task call, in the order Celery writes them. To every
 * reader a plain record (own enumerable members only: keys, spreads and JSON are a literal's);
 * the class lets pythonHeadersJson recognize encodeTaskMessage's headers and write them from a
 * template. A copy (`{ ...headers, extra }`) is a plain object and is written generically.
 */
export class TaskHeaders {
  readonly [name: string]: HeaderValue;
  declare readonly lang: 'py';
  declare readonly task: string;
  declare readonly id: string;
  declare readonly shadow: string | null;
  declare readonly eta: string | null;
  declare readonly expires: string | null;
  declare readonly group: string | null;
  declare readonly group_index: number | null;
  declare readonly retries: number;
  declare readonly timelimit: readonly [number | null, number | null];
  declare readonly root_id: string;
  declare readonly parent_id: string | null;
  declare readonly argsrepr: string;
  declare readonly kwargsrepr: string;
  declare readonly origin: string | null;
  declare readonly ignore_result: boolean;

  /** `eta` and `expires` already in Celery's ISO form (encodeTaskMessage's celeryIsoTime). */
  constructor(call: TaskCall, eta: string | null, expires: string | null) {
    const self = this as { -readonly [K in keyof TaskHeaders]: TaskHeaders[K] };
    self.lang = 'py';
    self.task = call.task;
    self.id = call.id;
    self.shadow = call.shadow ?? null;
    self.eta = eta;
    self.expires = expires;
    self.group = call.group ?? null;
    self.group_index = call.groupIndex ?? null;
    self.retries = call.retries ?? 0;
    self.timelimit = [call.timeLimit?.hard ?? null, call.timeLimit?.soft ?? null]; // hard first, as Celery writes it
    self.root_id = call.rootId ?? call.id;
    self.parent_id = call.parentId ?? null;
    self.argsrepr = call.argsrepr ?? argsRepr(call.args);
    self.kwargsrepr = call.kwargsrepr ?? kwargsRepr(call.kwargs);
    self.origin = call.origin ?? null;
    self.ignore_result = call.ignoreResult ?? false;
  }
}

/**
 * Headers as Python's json.dumps writes them (pythonJsonStringify's text, byte for byte).
 * encodeTaskMessage's own headers are written from a template rather than by the generic writer:
 * ~0.8 µs less a publish where the text goes into kombu's Redis envelope (issue #17's enqueue;
 * CPU a send −4 %, rate +5 % in 12 interleaved rounds). Headers are read-only (MessageHeaders).
 */
export function pythonHeadersJson(headers: MessageHeaders): string {
  if (!(headers instanceof TaskHeaders) || typeof headers.task !== 'string' || typeof headers.id !== 'string') return pythonJsonStringify(headers);
  // No member is undefined once task and id are strings: the template writes what the generic writer would.
  const h = headers;
  return (
    `{"lang": ${json(h.lang)}, "task": ${json(h.task)}, "id": ${json(h.id)}, "shadow": ${json(h.shadow)}, "eta": ${json(h.eta)}, ` +
    `"expires": ${json(h.expires)}, "group": ${json(h.group)}, "group_index": ${json(h.group_index)}, "retries": ${json(h.retries)}, ` +
    `"timelimit": ${json(h.timelimit)}, "root_id": ${json(h.root_id)}, "parent_id": ${json(h.parent_id)}, "argsrepr": ${json(h.argsrepr)}, ` +
    `"kwargsrepr": ${json(h.kwargsrepr)}, "origin": ${json(h.origin)}, "ignore_result": ${json(h.ignore_result)}}`
  );
}
