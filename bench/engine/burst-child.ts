// One 100k-burst measurement in a process of its own: `node --expose-gc burst-child.js <system> <bands> <seed>
// <backlog> <limit>` prints the BurstFigures as JSON. In one long-lived process the burst came out 1.5-2x slower
// after the grid and p-queue's runs had grown and fragmented the heap, whichever system ran it; a fresh process
// per measurement (a server's state after a restart) removes that interference between systems.
import { engineBurst } from './engine.js';
import { pqueueBurst } from './pqueue.js';
import { makeRequests } from './requests.js';
import { forceGc } from './stats.js';

async function main(argv: readonly string[]): Promise<void> {
  const [system, bandsArg, seedArg, backlogArg, limitArg] = argv;
  if (system !== 'callback' && system !== 'promise' && system !== 'p-queue') throw new Error(`unknown system ${String(system)}`);
  const bands = Number(bandsArg);
  const seed = Number(seedArg);
  const backlog = Number(backlogArg);
  const limit = Number(limitArg);
  const requests = makeRequests(backlog, { flows: 10_000, bands }, seed);
  const warm = requests.slice(0, backlog >> 3);
  const once = (rs: typeof requests) => (system === 'p-queue' ? pqueueBurst(rs, limit) : engineBurst(rs, limit, system));
  if (system !== 'p-queue') await once(warm); // p-queue's warm-up costs seconds and its code is small
  forceGc();
  const figures = await once(requests);
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
