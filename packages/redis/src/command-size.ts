/**
 * About how many bytes of values one batched command may carry (MomentBatch's maxBytes, for the
 * publishes and the result stores of one moment).
 *
 * Why 16 KB: a send's objects (its envelope text, its promise) live until the reply to the
 * command that carries it, and Redis answers a command once it has read all of it. The larger
 * the command, the longer a producer under load holds each send, and what lives through two
 * scavenges V8 promotes to the old space, which grows until a full collection. Measured, not
 * derived: the bytes promoted grow steadily with the command size (12 KB: 17 MB … 64 KB: 44 MB),
 * while building and flattening such strings alone promotes nothing. Enqueue, 100 in flight,
 * 300-byte arguments, 28,000 sends: 44 MB promoted with 64 KB commands, 18 MB with 16 KB;
 * peak RSS 124–127 → 102–106 MB (BullMQ's producer: 101–103); +10 % rate, single sends and
 * sendMany alike (docs/benchmarks.md, "Commands under 16 KB"). Below 64 KB in any case: ioredis
 * flattens a command into one string for the socket write, and V8 puts a string over 128 KB on
 * pages of its own, mapped for it and unmapped at the next collection ("Commands under 64 KB").
 */
export const MAX_COMMAND_BYTES = 16 * 1024;
