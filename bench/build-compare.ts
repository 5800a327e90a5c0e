// Helpers for benchmarks that run this build beside another one in the same process (`--baseline-root`: a
// repository whose dist/ is built, e.g. main before a change), alternating the builds round by round.
import { pathToFileURL } from 'node:url';
import { argValue } from './argv.js';

/** What every bench comparing this build with another takes. */
export interface BuildCompareOptions {
  /** Rounds, the builds alternating in each. @default 5 */
  readonly rounds?: number;
  /** Time per case and round. @default 600 */
  readonly caseMs?: number;
  /** Another build's repository root (its dist/ built). */
  readonly baselineRoot?: string;
}

/** The options every such bench reads off its command line: `--rounds=N --case-ms=N --baseline-root=DIR`. */
export function buildCompareArgs(argv: readonly string[] = process.argv): BuildCompareOptions {
  const rounds = argValue('rounds', argv);
  const caseMs = argValue('case-ms', argv);
  const baselineRoot = argValue('baseline-root', argv);
  return {
    ...(rounds !== undefined ? { rounds: Number(rounds) } : {}),
    ...(caseMs !== undefined ? { caseMs: Number(caseMs) } : {}),
    ...(baselineRoot !== undefined ? { baselineRoot } : {}),
  };
}

/** This repository's root (this file runs as dist/bench/build-compare.js), to load this build like another. */
export function thisRoot(): string {
  return new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
}

/** A module of a build's compiled sources (`root/dist/src/<path>`). */
export function importBuilt(root: string, path: string): Promise<unknown> {
  return import(pathToFileURL(`${root}/dist/src/${path}`).href);
}

/** Microseconds of this thread's CPU per call of `step` over `ms` of wall time, after `warmup` calls (JIT). */
export function cpuPerStep(ms: number, step: () => void, warmup = 200): number {
  for (let i = 0; i < warmup; i++) step();
  let steps = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  while (performance.now() - start < ms) {
    step();
    steps++;
  }
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / steps;
}

/** This build, after the baseline's when a root is given: the order the rounds alternate in. */
export async function loadBuilds<B>(load: (root: string, name: string) => Promise<B>, baselineRoot: string | undefined): Promise<B[]> {
  const builds = [await load(thisRoot(), 'this build')];
  if (baselineRoot !== undefined) builds.unshift(await load(baselineRoot, 'baseline build'));
  return builds;
}

/** Each build's figures over `rounds` rounds, the builds taking turns within each round (so drift hits both). */
export async function alternate<B>(builds: readonly B[], rounds: number, measure: (build: B) => number | Promise<number>): Promise<number[][]> {
  const values: number[][] = builds.map(() => []);
  for (let r = 0; r < rounds; r++) for (const [i, b] of builds.entries()) values[i]?.push(await measure(b));
  return values;
}
