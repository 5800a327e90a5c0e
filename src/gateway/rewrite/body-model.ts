// Rewrites the `model` of a JSON request body in place of its bytes: everything but the model's value stays byte
// for byte as the client sent it (key order, spacing, number spelling, escapes), so the model server sees the
// request it was sent, with one field changed.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;
const MODEL = Buffer.from('model');

function isSpace(b: number | undefined): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

function skipSpace(body: Buffer, i: number): number {
  while (i < body.length && isSpace(body[i])) i++;
  return i;
}

/** Index just past the string that opens at `i` (a quote); -1 when it never closes. */
function stringEnd(body: Buffer, i: number): number {
  for (let j = i + 1; j < body.length; j++) {
    const b = body[j];
    if (b === BACKSLASH) j++;
    else if (b === QUOTE) return j + 1;
  }
  return -1;
}

/** Index just past the JSON value starting at `i`; -1 when it is malformed or unterminated. */
function valueEnd(body: Buffer, i: number): number {
  const first = body[i];
  if (first === QUOTE) return stringEnd(body, i);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    for (let j = i; j < body.length; j++) {
      const b = body[j];
      if (b === QUOTE) {
        j = stringEnd(body, j) - 1;
        if (j < 0) return -1;
      } else if (b === OPEN_BRACE || b === OPEN_BRACKET) depth++;
      else if ((b === CLOSE_BRACE || b === CLOSE_BRACKET) && --depth === 0) return j + 1;
    }
    return -1;
  }
  let j = i;
  while (j < body.length && body[j] !== COMMA && body[j] !== CLOSE_BRACE && body[j] !== CLOSE_BRACKET && !isSpace(body[j])) j++;
  return j > i ? j : -1;
}

function keyIsModel(body: Buffer, start: number, end: number): boolean {
  const raw = body.subarray(start + 1, end - 1);
  if (!raw.includes(BACKSLASH)) return raw.equals(MODEL);
  try {
    return JSON.parse(body.subarray(start, end).toString('utf8')) === 'model';
  } catch {
    return false;
  }
}

/**
 * The byte range of the top-level `"model"` string value (the last one, as JSON.parse reads duplicates), or
 * undefined when the body is not an object with a string `model`. O(body) with no allocation per byte.
 */
export function findBodyModel(body: Buffer): { readonly start: number; readonly end: number } | undefined {
  let i = skipSpace(body, 0);
  if (body[i] !== OPEN_BRACE) return undefined;
  i = skipSpace(body, i + 1);
  let found: { start: number; end: number } | undefined;
  while (i < body.length && body[i] !== CLOSE_BRACE) {
    if (body[i] !== QUOTE) return undefined;
    const keyEnd = stringEnd(body, i);
    if (keyEnd < 0) return undefined;
    const isModel = keyIsModel(body, i, keyEnd);
    i = skipSpace(body, keyEnd);
    if (body[i] !== COLON) return undefined;
    i = skipSpace(body, i + 1);
    const end = valueEnd(body, i);
    if (end < 0) return undefined;
    if (isModel) found = body[i] === QUOTE ? { start: i, end } : undefined;
    i = skipSpace(body, end);
    if (body[i] === COMMA) i = skipSpace(body, i + 1);
  }
  return found;
}

/** `body` with its top-level `model` set to `model`; undefined when it has no top-level string `model`. */
export function replaceBodyModel(body: Buffer, model: string): Buffer | undefined {
  const at = findBodyModel(body);
  if (at === undefined) return undefined;
  return Buffer.concat([body.subarray(0, at.start), Buffer.from(JSON.stringify(model), 'utf8'), body.subarray(at.end)]);
}
