// Where benchmarks keep their results: bench/results/ of the repository, whether a benchmark runs from the
// sources or from the build (dist/bench/...), which the repository root's package.json tells apart.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest ancestor of this file holding package.json (works from src and dist). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
  return dir;
}

/** Writes `json` to bench/results/<name> (pretty, newline-terminated) and returns the file's path. */
export function writeResults(name: string, json: unknown): string {
  const file = join(repoRoot(), 'bench', 'results', name);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  return file;
}
