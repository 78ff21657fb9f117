import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets the heap grow past its live size before the next full collection (percent).
 *
 * Why: the services stream bytes (blob uploads and downloads, layers, logs). Every socket read
 * and every body chunk is a fresh Buffer outside the JS heap, but V8 counts those bytes against
 * the same allocation limit. With the default factor, a process with ~40 MB of live objects has
 * ~10 MB of headroom, so a 100 MB/s upload started a full mark-compact every 100-200 ms while
 * almost nothing on the JS heap was being allocated. Measured on a 160 MB skopeo push to the
 * all-in-one: 13 mark-compacts and 1.6 s of server CPU at the default, 0-1 and 0.8 s with the
 * factor doubled (see tools/bench/registry). The cost is a higher heap ceiling (2x the live
 * heap), which the young Buffers never reach because scavenges free them first.
 */
export const HEAP_GROWING_PERCENT = 100;

/** Applies the heap sizing above; call once, first thing in a process's main. */
export function tuneHeapForStreaming(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
