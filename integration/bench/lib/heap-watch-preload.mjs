// Watches the heap of any bench process from its start and prints the figures (heap-watch.mjs) to
// stderr at exit, e.g. for a BullMQ drain:
//   node --import ./integration/bench/lib/heap-watch-preload.mjs integration/bench/scenario.mjs '{"system":"bullmq","kind":"drain",…}'
// HEAP_WATCH_TASKS=20000 adds the promoted bytes per task.
import { watchHeap } from './heap-watch.mjs';

const watch = watchHeap();
watch.start();
process.on('exit', () => process.stderr.write(`heap watch: ${watch.stop(Number(process.env.HEAP_WATCH_TASKS) || 0)}\n`));
