// Finds the prompt inside an already-parsed OpenAI-style body and streams it, piece by piece, to a sink.

/** Receives the prompt in order; pieces are never concatenated into one big string. */
export interface PromptSink {
  text(piece: string): void;
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
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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
  if (typeof instructions === 'string') {
    sink.text(instructions);
    sink.boundary(RECORD);
  }
  if (input !== undefined) writeInput(input, sink);
}

/** string | string[] | number[] | number[][] | message-like items (responses API). */
function writeInput(value: unknown, sink: PromptSink): void {
  if (typeof value === 'string') {
    sink.text(value);
    return;
  }
  if (!Array.isArray(value)) return;
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    if (typeof item === 'number') {
      sink.token(item);
    } else if (typeof item === 'string' || Array.isArray(item)) {
      if (i > 0) sink.boundary(RECORD);
      writeInput(item, sink);
    } else if (isObject(item)) {
      writeMessage(item, sink);
    }
  }
}

function writeMessage(message: unknown, sink: PromptSink): void {
  if (!isObject(message)) return;
  if (typeof message.role === 'string') sink.text(message.role);
  sink.boundary(FIELD);
  writeContent(message.content, sink);
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls) {
      const fn: unknown = isObject(call) ? call.function : undefined;
      if (!isObject(fn)) continue;
      sink.boundary(FIELD);
      if (typeof fn.name === 'string') sink.text(fn.name);
      if (typeof fn.arguments === 'string') sink.text(fn.arguments);
    }
  }
  sink.boundary(RECORD);
}

/** Content is a string or an array of typed parts (text, image_url, input_audio, ...). */
function writeContent(content: unknown, sink: PromptSink): void {
  if (typeof content === 'string') {
    sink.text(content);
    return;
  }
  if (!Array.isArray(content)) return;
  for (const part of content) {
    if (typeof part === 'string') {
      sink.text(part);
    } else if (isObject(part)) {
      if (typeof part.text === 'string') sink.text(part.text);
      else if (isObject(part.image_url) && typeof part.image_url.url === 'string') sink.text(part.image_url.url);
      else if (typeof part.image_url === 'string') sink.text(part.image_url);
      else if (isObject(part.input_audio) && typeof part.input_audio.data === 'string') sink.text(part.input_audio.data);
    }
    sink.boundary(FIELD);
  }
}
