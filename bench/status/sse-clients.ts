// A child process of the status benchmark: holds N Server-Sent-Event connections to /status/events (as N open
// status pages would), reads and parses every snapshot, and on SIGTERM prints what it received as one JSON line.
// Kept out of the engine's process so that the clients' parsing does not count against the engine.
import http from 'node:http';

const [url = '', countArg = '1'] = process.argv.slice(2);
const count = Number(countArg);
let events = 0;
let bytes = 0;
let lastSeq = 0;
const requests: http.ClientRequest[] = [];

for (let i = 0; i < count; i++) {
  const req = http.get(url, (res) => {
    let buffer = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      bytes += chunk.length;
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split('\n').find((l) => l.startsWith('data: '));
        if (data === undefined) continue;
        lastSeq = (JSON.parse(data.slice(6)) as { seq: number }).seq;
        events++;
      }
    });
  });
  req.on('error', () => {});
  requests.push(req);
}

process.on('SIGTERM', () => {
  for (const r of requests) r.destroy();
  process.stdout.write(`${JSON.stringify({ clients: count, events, bytes, lastSeq })}\n`);
  process.exit(0);
});
process.stdout.write('ready\n');
