import { ContentTypeForbiddenError, MessageDecodeError } from '../errors.js';

/** Turns task arguments and results into bytes and back. One per content type. */
export interface Serializer {
  /** MIME type written to `properties.contentType`, e.g. 'application/json'. */
  readonly contentType: string;
  /** Celery's short name ('json'), accepted in accept lists as an alias of the content type. */
  readonly name: string;
  readonly contentEncoding: 'utf-8' | 'binary';
  encode(value: unknown): Uint8Array;
  /** Throws MessageDecodeError on bad input. */
  decode(body: Uint8Array): unknown;
}

/**
 * Serializers by content type, with an accept list checked *before* decoding: a message whose
 * content type is not accepted is never handed to a decoder.
 */
export class SerializerRegistry {
  readonly #byType = new Map<string, Serializer>();
  readonly #accept: ReadonlySet<string>;
  readonly accept: readonly string[];

  constructor(serializers: readonly Serializer[], accept: readonly string[]) {
    for (const s of serializers) this.#byType.set(s.contentType, s);
    const aliases = new Map(serializers.map((s) => [s.name, s.contentType]));
    this.accept = accept.map((a) => aliases.get(a) ?? a);
    this.#accept = new Set(this.accept);
  }

  /** The serializer for a content type or Celery short name. */
  get(nameOrType: string): Serializer {
    const found = this.#byType.get(nameOrType) ?? [...this.#byType.values()].find((s) => s.name === nameOrType);
    if (!found) throw new ContentTypeForbiddenError(nameOrType, [...this.#byType.keys()]);
    return found;
  }

  isAccepted(contentType: string): boolean {
    return this.#accept.has(contentType);
  }

  /** Decode a body after checking its content type against the accept list. */
  decode(contentType: string | undefined, body: Uint8Array): unknown {
    if (!contentType) throw new MessageDecodeError('properties.contentType', 'missing');
    if (!this.#accept.has(contentType)) throw new ContentTypeForbiddenError(contentType, this.accept);
    const serializer = this.#byType.get(contentType);
    if (!serializer) throw new ContentTypeForbiddenError(contentType, [...this.#byType.keys()]);
    return serializer.decode(body);
  }
}
