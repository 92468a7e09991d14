import { createHash } from 'node:crypto';

/**
 * A task id derived from the task that applies it and the successor's place (e.g. "link/0",
 * "chain/"), formatted as a UUID (version 5 layout). The same step run twice derives the same
 * ids, so a redelivered step re-publishes its callbacks under the ids they already have, and a
 * worker that receives one whose record is already SUCCESS acks it without running it again.
 */
export function derivedTaskId(parentId: string, path: string): string {
  const hex = createHash('sha1').update(`${parentId}\u0000${path}`).digest('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
