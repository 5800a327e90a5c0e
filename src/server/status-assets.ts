// Loads what the status page needs from disk, once at start-up: the compiled page script (dist/) and the charting
// library (uPlot, from node_modules), plus Fairway's version. The composition root is the one place that reads
// files; a missing asset is reported and the page says so, while /status.json keeps working.
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface StatusAsset {
  readonly body: Buffer;
  readonly contentType: string;
}

export interface StatusAssets {
  /** By file name under /status/assets/. */
  readonly files: ReadonlyMap<string, StatusAsset>;
  /** Names that could not be read (not built yet, say), with the reason. */
  readonly missing: readonly string[];
}

/** The folder holding Fairway's package.json, from wherever this module runs (src/ under tests, dist/ otherwise). */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (existsSync(candidate)) {
      try {
        if ((JSON.parse(readFileSync(candidate, 'utf8')) as { name?: unknown }).name === 'fairway') return dir;
      } catch {
        // Not ours or unreadable: keep looking upwards.
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the fairway package root');
    dir = parent;
  }
}

/** Fairway's version from package.json; 'unknown' if it cannot be read. */
export function fairwayVersion(): string {
  try {
    const v = (JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : 'unknown';
  } catch {
    return 'unknown';
  }
}

export async function loadStatusAssets(): Promise<StatusAssets> {
  const root = packageRoot();
  const require = createRequire(path.join(root, 'package.json'));
  const wanted: [string, () => string, string][] = [
    ['app.js', () => path.join(root, 'dist', 'src', 'status', 'page', 'app.js'), 'text/javascript; charset=utf-8'],
    ['uPlot.iife.min.js', () => require.resolve('uplot/dist/uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
    ['uPlot.min.css', () => require.resolve('uplot/dist/uPlot.min.css'), 'text/css; charset=utf-8'],
  ];
  const files = new Map<string, StatusAsset>();
  const missing: string[] = [];
  await Promise.all(
    wanted.map(async ([name, locate, contentType]) => {
      try {
        files.set(name, { body: await readFile(locate()), contentType });
      } catch (err) {
        missing.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }),
  );
  return { files, missing };
}
