import type { HeaderValue, MessageHeaders, MessageProperties } from '../broker/broker.js';

/**
 * Celery message protocol v2, as tq reads and writes it (docs/protocol.md).
 * Body: [args, kwargs, embed]; everything else travels in headers and properties.
 */
export interface EmbeddedOptions {
  /** Signatures to apply to the result on success (link). */
  readonly callbacks: readonly HeaderValue[] | null;
  /** Signatures to apply on failure (link_error). */
  readonly errbacks: readonly HeaderValue[] | null;
  /** Remaining chain, in reverse order (Celery pops from the end). */
  readonly chain: readonly HeaderValue[] | null;
  /** The chord callback signature, when this task is part of a chord header. */
  readonly chord: HeaderValue | null;
}

export const emptyEmbed: EmbeddedOptions = Object.freeze({ callbacks: null, errbacks: null, chain: null, chord: null });

export interface TimeLimit {
  /** Seconds; null = none. */
  readonly soft: number | null;
  readonly hard: number | null;
}

/** A decoded task message: what a worker runs. */
export interface TaskRequest {
  readonly id: string;
  /** Registered task name (headers.task). */
  readonly task: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly embed: EmbeddedOptions;
  readonly retries: number;
  readonly eta: Date | null;
  readonly expires: Date | null;
  readonly timeLimit: TimeLimit;
  readonly rootId: string | null;
  readonly parentId: string | null;
  readonly group: string | null;
  readonly groupIndex: number | null;
  readonly origin: string | null;
  readonly ignoreResult: boolean;
  readonly shadow: string | null;
  /** Every header as received, known and unknown. */
  readonly headers: MessageHeaders;
  readonly properties: MessageProperties;
}

/** What a producer sends: the input of encodeTaskMessage. */
export interface TaskCall {
  readonly id: string;
  readonly task: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly embed?: EmbeddedOptions;
  readonly retries?: number;
  readonly eta?: Date | string | null;
  readonly expires?: Date | string | null;
  readonly timeLimit?: TimeLimit;
  readonly rootId?: string | null;
  readonly parentId?: string | null;
  readonly group?: string | null;
  readonly groupIndex?: number | null;
  readonly origin?: string | null;
  readonly ignoreResult?: boolean;
  readonly shadow?: string | null;
  readonly argsrepr?: string;
  readonly kwargsrepr?: string;
  /** Extra headers, passed through untouched (and any unknown header of a re-sent request). */
  readonly headers?: MessageHeaders;
  readonly replyTo?: string;
  readonly correlationId?: string;
  readonly priority?: number;
}

/** Header names tq writes, in Celery's order. */
export const knownHeaderNames = [
  'lang',
  'task',
  'id',
  'shadow',
  'eta',
  'expires',
  'group',
  'group_index',
  'retries',
  'timelimit',
  'root_id',
  'parent_id',
  'argsrepr',
  'kwargsrepr',
  'origin',
  'ignore_result',
] as const;
