// Child process for the scrape benchmark where the C stand-ins (metrics-servers.c) cannot be built: N metrics
// endpoints on 127.0.0.1, kept out of the measuring process so its CPU time is the scraper's alone. The good
// ones are minimal HTTP/1.1 keep-alive responders writing prepared answers (realistic vLLM pages, or the part
// of them `name[]` asks for, built once per distinct request target), each answer on a connection the next of
// the pages (standInPages: the load gauges change from one to the next), at about twice the C ones' CPU per
// answer; `hang` ones accept and never answer (a stuck server), `dead` ones are closed ports (connection refused).
// argv: good hang dead [--static-pages] (one unchanging page). Reports ports (good first, then hang, then dead)
// over IPC, and its CPU time when asked.
import { type Socket, type AddressInfo, createServer } from 'node:net';
import { metricsAnswers, standInPages } from './stand-ins.js';

const HEADER_END = Buffer.from('\r\n\r\n');

async function listen(onSocket: (socket: Socket) => void): Promise<{ port: number; close: () => void }> {
  const server = createServer(onSocket);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

async function main(): Promise<void> {
  const [good, hang, dead] = [2, 3, 4].map((i) => Number(process.argv[i] ?? '0'));
  const pages = standInPages({ staticPages: process.argv.includes('--static-pages') });
  const answers = new Map<string, Buffer[]>();
  const answersFor = (target: string): Buffer[] => {
    let forTarget = answers.get(target);
    if (forTarget === undefined) {
      forTarget = metricsAnswers(target, pages);
      answers.set(target, forTarget);
    }
    return forTarget;
  };
  // Connections start at different pages, so the endpoints' pages are not in step.
  let connections = 0;
  const ports: number[] = [];
  for (let i = 0; i < (good ?? 0); i++) {
    const s = await listen((socket) => {
      let answered = connections++;
      socket.on('error', () => undefined);
      // One request per packet is what a scraper that never pipelines sends.
      socket.on('data', (data: Buffer) => {
        if (!data.includes(HEADER_END)) return;
        // "GET <target> HTTP/1.1": the target between the first two blanks of the request line.
        const first = data.indexOf(32);
        const second = data.indexOf(32, first + 1);
        const forTarget = answersFor(first === -1 || second === -1 ? '/metrics' : data.toString('latin1', first + 1, second));
        const answer = forTarget[answered++ % forTarget.length];
        if (answer !== undefined) socket.write(answer);
      });
    });
    ports.push(s.port);
  }
  for (let i = 0; i < (hang ?? 0); i++) {
    const s = await listen((socket) => socket.on('error', () => undefined));
    ports.push(s.port);
  }
  // Closed only once all are bound, so no later listen(0) here is handed a port meant to be dead.
  const closing: (() => void)[] = [];
  for (let i = 0; i < (dead ?? 0); i++) {
    const s = await listen(() => undefined);
    closing.push(s.close);
    ports.push(s.port);
  }
  for (const close of closing) close();
  process.send?.({ ports });
  // The harness asks for this process's CPU time at the edges of its window, to report it beside Fairway's.
  process.on('message', (m: unknown) => {
    if (m === 'cpu') process.send?.({ cpu: process.cpuUsage() });
  });
  process.on('disconnect', () => process.exit(0));
}

void main();
