/**
 * About how many bytes of values one batched command may carry (MomentBatch's maxBytes, for the
 * publishes and the result stores of one moment). ioredis flattens a command into one string for
 * the socket write, and V8 allocates a string over 128 KB on pages of its own (its large-object
 * space), mapped for that string and unmapped at the next collection: the page faults cost more
 * than the commands a larger batch saves. Enqueue, 100 in flight, 300-byte arguments: 26 → 17 µs
 * of CPU a task, page faults halved (docs/benchmarks.md, "Commands under 64 KB").
 */
export const MAX_COMMAND_BYTES = 64 * 1024;
