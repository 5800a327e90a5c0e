// Finds the prompt inside an already-parsed OpenAI-style body and streams it, piece by piece, to a sink.

/**
 * Prompt text that was never made a JavaScript string: a string of the received body kept as a range of its
 * bytes (see gateway/body), written out as UTF-8 only as far as the hasher reads.
 */
export abstract class PromptBytes {
  /**
   * Writes the text's UTF-8 bytes into `into` from index `at`, whole characters only, stopping at the first that
   * does not fit (as TextEncoder.encodeInto does); returns the bytes written. Bytes of `into` past those may be
   * changed: it is scratch space.
   */
  abstract writeUtf8(into: Uint8Array, at: number): number;
}

/** A prompt string: a JavaScript string or the bytes of one. */
export type PromptText = string | PromptBytes;

function isText(value: unknown): value is PromptText {
  return typeof value === 'string' || value instanceof PromptBytes;
}

/** Receives the prompt in order; pieces are never concatenated into one big string. */
export interface PromptSink {
  text(piece: PromptText): void;
  /** One token id (completions/embeddings accept token arrays instead of text). */
  token(id: number): void;
  /** A structural boundary (between messages, between a role and its content) as one control byte. */
  boundary(code: number): void;
}

/** Separators are ASCII control codes, which JSON prompts practically never contain. */
const FIELD = 0x1f; // unit separator: role | content
const RECORD = 0x1e; // record separator: between messages / array items

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof PromptBytes);
}

/**
 * Streams the prompt of a completions (`prompt`), chat (`messages`) or embeddings/responses (`input`, with
 * `instructions` first) body to `sink`. Unknown shapes contribute nothing: the prefix cache is a hint, not a
 * validator. Chat messages are written as role, FIELD, content parts, RECORD, so the same conversation always
 * yields the same bytes, and a grown conversation extends the bytes of the shorter one.
 */
export function writePrompt(body: unknown, sink: PromptSink): void {
  if (!isObject(body)) return;
  const { prompt, messages, input, instructions } = body;
  if (prompt !== undefined) {
    writeInput(prompt, sink);
    return;
  }
  if (Array.isArray(messages)) {
    for (const message of messages) writeMessage(message, sink);
    return;
  }
  if (isText(instructions)) {
    sink.text(instructions);
    sink.boundary(RECORD);
  }
  if (input !== undefined) writeInput(input, sink);
}

/** string | string[] | number[] | number[][] | message-like items (responses API). */
function writeInput(value: unknown, sink: PromptSink): void {
  if (isText(value)) {
    sink.text(value);
    return;
  }
  if (!Array.isArray(value)) return;
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    if (typeof item === 'number') {
      sink.token(item);
    } else if (isText(item) || Array.isArray(item)) {
      if (i > 0) sink.boundary(RECORD);
      writeInput(item, sink);
    } else if (isObject(item)) {
      writeMessage(item, sink);
    }
  }
}

function writeMessage(message: unknown, sink: PromptSink): void {
  if (!isObject(message)) return;
  if (isText(message.role)) sink.text(message.role);
  sink.boundary(FIELD);
  writeContent(message.content, sink);
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls) {
      const fn: unknown = isObject(call) ? call.function : undefined;
      if (!isObject(fn)) continue;
      sink.boundary(FIELD);
      if (isText(fn.name)) sink.text(fn.name);
      if (isText(fn.arguments)) sink.text(fn.arguments);
    }
  }
  sink.boundary(RECORD);
}

/** Content is a string or an array of typed parts (text, image_url, input_audio, ...). */
function writeContent(content: unknown, sink: PromptSink): void {
  if (isText(content)) {
    sink.text(content);
    return;
  }
  if (!Array.isArray(content)) return;
  for (const part of content) {
    if (isText(part)) {
      sink.text(part);
    } else if (isObject(part)) {
      if (isText(part.text)) sink.text(part.text);
      else if (isObject(part.image_url) && isText(part.image_url.url)) sink.text(part.image_url.url);
      else if (isText(part.image_url)) sink.text(part.image_url);
      else if (isObject(part.input_audio) && isText(part.input_audio.data)) sink.text(part.input_audio.data);
    }
    sink.boundary(FIELD);
  }
}
