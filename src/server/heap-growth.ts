// How far V8 lets the old generation grow after a major GC before it starts the next one. With long request
// bodies, Buffers (external memory) start a major GC every so often; afterwards V8 sets the next limit at about
// twice the live heap, which a busy server reaches again within a few requests, so one major GC follows another
// (measured on the ext_proc layer alone with 225 KB bodies: 14-30 per 4 s, 2.5-3.9 ms of CPU per request; with
// growth 300%: 3-6 per 4 s, only the Buffer-driven ones, 1.6-2.6 ms: bench/extproc/README.md). Process-wide,
// so only the CLI applies it; an operator's own `--heap-growing-percent` (argv or NODE_OPTIONS) wins.
import { setFlagsFromString } from 'node:v8';

/** Old-generation limit after a major GC = live heap x (1 + this / 100); Fairway's live heap is about 25 MB. */
export const HEAP_GROWING_PERCENT = 300;

const FLAG = '--heap-growing-percent';

/** The V8 flag to set, or undefined when the operator set one already (node argv or NODE_OPTIONS). */
export function heapGrowthFlag(execArgv: readonly string[], nodeOptions: string | undefined): string | undefined {
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)];
  if (given.some((a) => a === FLAG || a.startsWith(`${FLAG}=`) || a === '--heap_growing_percent' || a.startsWith('--heap_growing_percent='))) {
    return undefined;
  }
  return `${FLAG}=${HEAP_GROWING_PERCENT}`;
}

/** Applies `heapGrowthFlag` to this process (V8 reads the flag at each major GC, so it takes effect at once). */
export function tuneHeapGrowth(execArgv: readonly string[], nodeOptions: string | undefined): string | undefined {
  const flag = heapGrowthFlag(execArgv, nodeOptions);
  if (flag !== undefined) setFlagsFromString(flag);
  return flag;
}
