import { StorageType, type StreamInfo } from '@nats-io/jetstream';
import type { Logger } from '@tq/core/adapter';

/**
 * Says once, at connect, when a stream tq uses keeps its messages in memory only. tq creates its
 * streams with file storage; one created beforehand with `storage: memory` (by hand, by an
 * operator's config) is used as it is, and a server restart then loses every queued task.
 */
export function warnIfMemoryStorage(info: StreamInfo, displayUrl: string, logger: Logger | undefined): void {
  if (info.config.storage !== StorageType.Memory) return;
  logger?.warn(
    `nats: stream ${info.config.name} on ${displayUrl} keeps its messages in memory only (storage: memory): queued tasks are lost if the server restarts; ` +
      're-create it with file storage (see docs/brokers/nats.md, "Durability")',
  );
}
