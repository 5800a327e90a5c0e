// Rewrites the `model` of a JSON request body in place of its bytes: everything but the model's value stays byte
// for byte as the client sent it (key order, spacing, number spelling, escapes), so the model server sees the
// request it was sent, with one field changed. The body's chunks are reused as views, never copied.
import { type BodyBytes, type RequestBody, bodyToBuffer, replaceRange, scanBody } from '../body/request-body.js';

/**
 * The byte range of the top-level `"model"` string value, quotes included (the last one, as JSON.parse reads
 * duplicates), or undefined when the body is not a JSON object with a non-empty string `model`.
 */
export function findBodyModel(body: BodyBytes): { readonly start: number; readonly end: number } | undefined {
  const scanned = scanBody(body);
  return scanned.ok ? scanned.body.modelRange : undefined;
}

/** The body with the model value at `range` (from the scan) set to `model`. O(chunks). */
export function withBodyModel(body: BodyBytes, range: { readonly start: number; readonly end: number }, model: string): RequestBody {
  return replaceRange(body, range, Buffer.from(JSON.stringify(model), 'utf8'));
}

/** `body` with its top-level `model` set to `model`, in one Buffer; undefined when it has no such `model`. */
export function replaceBodyModel(body: BodyBytes, model: string): Buffer | undefined {
  const range = findBodyModel(body);
  return range === undefined ? undefined : bodyToBuffer(withBodyModel(body, range, model));
}
