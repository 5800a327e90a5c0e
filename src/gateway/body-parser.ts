// Reads what routing needs from an OpenAI-compatible request body: one scan of its bytes (see body/body-scanner).
import { type ScannedBody } from './body/body-scanner.js';
import { type BodyBytes, scanBody } from './body/request-body.js';

export type ApiKind = 'completions' | 'chat-completions' | 'embeddings' | 'responses' | 'other';

/** What routing reads from the body (see ScannedBody), and which API the path names. */
export interface ParsedBody extends ScannedBody {
  readonly api: ApiKind;
}

export type BodyParseResult = { readonly ok: true; readonly body: ParsedBody } | { readonly ok: false; readonly message: string };

export function apiKindOf(path: string): ApiKind {
  const p = path.split('?', 1)[0] ?? '';
  if (p.endsWith('/chat/completions')) return 'chat-completions';
  if (p.endsWith('/completions')) return 'completions';
  if (p.endsWith('/embeddings')) return 'embeddings';
  if (p.endsWith('/responses')) return 'responses';
  return 'other';
}

export function parseRequestBody(path: string, body: BodyBytes): BodyParseResult {
  const scanned = scanBody(body);
  if (!scanned.ok) return scanned;
  return { ok: true, body: { api: apiKindOf(path), ...scanned.body } };
}
