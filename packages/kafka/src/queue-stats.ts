import type { QueueStats } from '@tq/core/adapter';
import type { Admin } from 'kafkajs';
import { decodeMetadata } from './offset-tracker.js';

/** One partition as the admin API reports it: its log (low, high) and the group's commit. */
export interface PartitionProgress {
  readonly low: bigint;
  readonly high: bigint;
  /** The group's committed offset, or null when it has committed nothing. */
  readonly committed: bigint | null;
  /** The commit's metadata string (tq's consumers write "tq1 d=… a=…"). */
  readonly metadata: string | null;
}

/**
 * A group's view of its partitions. The lag (high minus committed) counts every record the
 * group has not finished; tq's commit metadata splits it further: records up to the highest
 * offset handed out to a worker, minus those done out of order, are unacked; the rest are
 * ready. As of the group's last commit (a consumer commits a moment after handing a record
 * out), and counting offsets as consecutive (tq writes no transactions; a compacted topic
 * would count high). Without tq's metadata (another client's group), unacked is null and every
 * unfinished record counts as ready.
 */
export function countPartitions(partitions: readonly PartitionProgress[]): { ready: number; unacked: number | null } {
  let ready = 0n;
  let unacked: bigint | null = 0n;
  for (const { low, high, committed, metadata } of partitions) {
    const start = committed !== null && committed > low ? committed : low;
    if (high <= start) continue;
    // No metadata at all is tq's purge (or a commit before any delivery); other text is another client's.
    if (committed !== null && metadata && !metadata.startsWith('tq1')) unacked = null;
    const progress = decodeMetadata(committed, metadata);
    // Offsets handed out lie in [start, handedOutEnd); a commit below the log's start (records
    // deleted by retention) or a stale "delivered" mark cannot push it past the end.
    let handedOutEnd = progress.highestDelivered !== null && progress.highestDelivered >= start ? progress.highestDelivered + 1n : start;
    if (handedOutEnd > high) handedOutEnd = high;
    const doneAhead = progress.doneAhead.filter((offset) => offset >= start && offset < handedOutEnd).length;
    ready += high - handedOutEnd;
    if (unacked !== null) unacked += handedOutEnd - start - BigInt(doneAhead);
  }
  return { ready: Number(ready), unacked: unacked === null ? null : Number(unacked) };
}

/** What queueStats needs to know about one queue and its dead-letter topic. */
export interface QueueStatsTarget {
  readonly topic: string;
  readonly groupId: string;
  readonly deadTopic: string;
  readonly deadGroupId: string;
}

/**
 * A queue's counts from the admin API: ListOffsets and OffsetFetch for the topic and its
 * dead-letter topic (ready, unacked, dead), DescribeGroups for the consumers (GroupMembers). A
 * topic that does not exist counts zero and is not created: Metadata without topics lists them,
 * and only existing ones are asked about (asking about a missing topic would auto-create it
 * where the cluster allows that, as the mock cluster does).
 */
export async function kafkaQueueStats(admin: Admin, target: QueueStatsTarget, members: GroupMembers): Promise<QueueStats> {
  const existing = new Set(await admin.listTopics());
  const progress = async (topic: string, groupId: string): Promise<PartitionProgress[]> => {
    if (!existing.has(topic)) return [];
    const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
    const commits = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, p]));
    return ends.map(({ partition, low, high }) => {
      const commit = commits.get(partition);
      const offset = commit ? BigInt(commit.offset) : -1n;
      return { low: BigInt(low), high: BigInt(high), committed: offset >= 0n ? offset : null, metadata: commit?.metadata ?? null };
    });
  };
  const [queue, dead, consumers] = await Promise.all([progress(target.topic, target.groupId), progress(target.deadTopic, target.deadGroupId), members.count(admin, target.groupId)]);
  const counts = countPartitions(queue);
  const deadCounts = countPartitions(dead);
  return { ready: counts.ready, unacked: counts.unacked, dead: deadCounts.ready + (deadCounts.unacked ?? 0), consumers };
}

/**
 * Members of a consumer group (DescribeGroups), or null when the cluster cannot say. A cluster
 * that does not support the call (librdkafka's mock) is not asked again.
 */
export class GroupMembers {
  #unsupported = false;

  async count(admin: Admin, groupId: string): Promise<number | null> {
    if (this.#unsupported) return null;
    try {
      const { groups } = await admin.describeGroups([groupId]);
      return groups[0]?.members.length ?? 0;
    } catch (error) {
      if (/does not support the requested API version/i.test((error as Error).message)) this.#unsupported = true;
      return null;
    }
  }
}
