import { brotliDecompressSync, inflateSync } from 'node:zlib';
import type { HeaderValue } from '../broker/broker.js';
import { MessageDecodeError, PayloadTooLargeError } from '../errors.js';

type Decompress = (body: Uint8Array, maxOutputLength: number) => Uint8Array;

/**
 * What kombu's `compression` header names (a Celery producer with `task_compression` or
 * `apply_async(compression=…)`), and how to undo it. kombu's "gzip" is Python's zlib.compress:
 * a zlib stream, not a gzip file. bzip2, lzma and zstd have no decoder in Node's standard
 * library and are refused with a typed error.
 */
const decompressors: Readonly<Record<string, Decompress>> = {
  'application/x-gzip': (body, maxOutputLength) => inflateSync(body, { maxOutputLength }),
  'application/x-brotli': (body, maxOutputLength) => brotliDecompressSync(body, { maxOutputLength }),
};
const aliases: Readonly<Record<string, string>> = { gzip: 'application/x-gzip', zlib: 'application/x-gzip', brotli: 'application/x-brotli' };

/**
 * The body as the serializer reads it: decompressed when the message names a compression.
 * Decompressing stops at `maxBytes` (a small message must not inflate into gigabytes).
 */
export function decompressBody(compression: HeaderValue | undefined, body: Uint8Array, maxBytes: number): Uint8Array {
  if (compression === undefined || compression === null) return body;
  if (typeof compression !== 'string') throw new MessageDecodeError('headers.compression', `expected a string, got ${typeof compression}`);
  const decompress = decompressors[aliases[compression] ?? compression];
  if (!decompress) {
    throw new MessageDecodeError('headers.compression', `unsupported "${compression}": tq reads gzip (zlib) and brotli; send with compression="gzip", or none`);
  }
  try {
    return decompress(body, maxBytes);
  } catch (cause) {
    if ((cause as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new PayloadTooLargeError(maxBytes + 1, maxBytes);
    throw new MessageDecodeError('body', `not valid ${compression} data (${(cause as Error).message})`, { cause });
  }
}
