// Child process of the Kubernetes benchmark: the in-process API server with the pool, driven over IPC, so its
// CPU is not counted against Fairway's. Each change is stamped (wall clock, sub-millisecond) when it is emitted.
import { FakeKubeApi, PODS, POOLS_V1, inferencePoolV1, pod } from '../../src/simulator/kube-api/index.js';

type Command = { cmd: 'burst'; n: number } | { cmd: 'churn'; rate: number; seconds: number } | { cmd: 'stop' };

const NS = 'bench';
const api = new FakeKubeApi({ historyLimit: 100_000 });
const now = (): number => performance.timeOrigin + performance.now();
const ipOf = (i: number): string => `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
const ready = new Map<number, boolean>();
let podCount = 0;

function send(message: unknown): void {
  process.send?.(message);
}

await api.start();
api.apply(POOLS_V1, NS, inferencePoolV1('bench', { app: 'bench' }, [8000]));
send({ kind: 'ready', url: api.url });

process.on('message', (raw: unknown) => {
  const m = raw as Command;
  if (m.cmd === 'burst') {
    const start = now();
    for (let i = podCount; i < podCount + m.n; i++) {
      api.apply(PODS, NS, pod(`p${i}`, { ip: ipOf(i), labels: { app: 'bench' } }));
      ready.set(i, true);
    }
    podCount += m.n;
    send({ kind: 'burst-done', sentAt: start });
  } else if (m.cmd === 'churn') {
    // Round-robin over the pods, so one pod changes again only after every other has: no two changes of one pod
    // fall in one tick and cancel out.
    const log: [string, number][] = [];
    const total = Math.round(m.rate * m.seconds);
    const intervalMs = 1_000 / m.rate;
    const t0 = performance.now();
    let k = 0;
    const step = (): void => {
      while (k < total && performance.now() - t0 >= k * intervalMs) {
        const i = k % podCount;
        const next = !(ready.get(i) ?? true);
        ready.set(i, next);
        log.push([ipOf(i), now()]);
        api.apply(PODS, NS, pod(`p${i}`, { ip: ipOf(i), labels: { app: 'bench' }, ready: next }));
        k++;
      }
      if (k < total) setTimeout(step, Math.max(0, t0 + k * intervalMs - performance.now()));
      else send({ kind: 'churn-done', log });
    };
    step();
  } else {
    void api.stop().then(() => process.exit(0));
  }
});
