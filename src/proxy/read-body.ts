// Reads a request body as its chunks, scanning each as it arrives (never concatenated), refusing to hold more
// than a bound (the pipeline needs the whole body).
import { type IncomingMessage } from 'node:http';
import { BodyReader, type RequestBody } from '../gateway/index.js';

export type BodyResult = { readonly kind: 'ok'; readonly body: RequestBody } | { readonly kind: 'too-large' } | { readonly kind: 'aborted' };

export function readBoundedBody(req: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.resolve({ kind: 'too-large' });
  return new Promise((resolve) => {
    const reader = new BodyReader();
    let settled = false;
    const settle = (r: BodyResult): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      resolve(r);
    };
    const onData = (chunk: Buffer): void => {
      if (reader.length + chunk.length > maxBytes) {
        settle({ kind: 'too-large' });
        return;
      }
      reader.write(chunk);
    };
    req.on('data', onData);
    req.on('end', () => settle({ kind: 'ok', body: reader.finish() }));
    req.on('error', () => settle({ kind: 'aborted' }));
    req.on('close', () => settle({ kind: 'aborted' }));
  });
}
