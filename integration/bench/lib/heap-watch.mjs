import v8 from 'node:v8';

const mb = (bytes) => (bytes / 1048576).toFixed(1);
const oldSpaces = /^(old|large_object)_space$/;
const oldUsed = (spaces) => spaces.filter((space) => oldSpaces.test(space.spaceName)).reduce((sum, space) => sum + space.spaceUsedSize, 0);

/**
 * The scavenges among a GC profile's `collections` (v8.GCProfiler's statistics) and the bytes
 * they promoted: the growth of the old spaces' used size across each.
 */
export function scavengeFigures(collections) {
  const scavenges = collections.filter((gc) => gc.gcType === 'Scavenge');
  const promotedBytes = scavenges.reduce((sum, gc) => sum + oldUsed(gc.afterGC.heapSpaceStatistics) - oldUsed(gc.beforeGC.heapSpaceStatistics), 0);
  return { scavenges: scavenges.length, promotedBytes };
}

/**
 * Watches V8's heap while started: the peak RSS and size of each heap space (sampled every
 * 10 ms), and from V8's GC profiler the scavenges, the full collections, the live heap each full
 * collection left, and the bytes the scavenges promoted to the old space (the growth of the old
 * spaces' used size across each scavenge). What a drain promotes is what V8 lets the old space
 * grow by before its next full collection, and so much of a busy worker's RSS.
 */
export function watchHeap() {
  const peaks = { rss: 0 };
  const gcs = new v8.GCProfiler();
  let timer;
  const sample = () => {
    peaks.rss = Math.max(peaks.rss, process.memoryUsage.rss());
    for (const space of v8.getHeapSpaceStatistics()) peaks[space.space_name] = Math.max(peaks[space.space_name] ?? 0, space.space_size);
  };
  return {
    start() {
      timer = setInterval(sample, 10);
      timer.unref();
      gcs.start();
    },
    /** The figures since start(); `tasks` gives the promoted bytes per task. */
    stop(tasks) {
      clearInterval(timer);
      sample();
      const collections = gcs.stop()?.statistics ?? [];
      const { scavenges, promotedBytes: promoted } = scavengeFigures(collections);
      const full = collections.filter((gc) => gc.gcType === 'MarkSweepCompact');
      return (
        `peaks: RSS ${mb(peaks.rss)} MB, new space ${mb(peaks.new_space ?? 0)} MB, old space ${mb(peaks.old_space ?? 0)} MB; ` +
        `${scavenges} scavenges promoted ${mb(promoted)} MB${tasks ? ` (${(promoted / 1024 / tasks).toFixed(2)} KB a task)` : ''}; ` +
        `${full.length} full collections, live heap after each: ${full.map((gc) => mb(gc.afterGC.heapStatistics.usedHeapSize)).join(', ') || '-'} MB`
      );
    },
  };
}
