// Cuts a prompt into fixed-size blocks and chains their hashes (xxh32 via xxhash-wasm), seeded by model and salt.
import xxhash, { type XXHashAPI } from 'xxhash-wasm';
import { requireIntegerInRange } from '../../core/index.js';
import { type PromptSink, writePrompt } from './prompt-text.js';

/** vLLM's 16-token block at ~4 characters per token; the Go reference's default. */
export const DEFAULT_BLOCK_SIZE_BYTES = 64;
/**
 * Blocks hashed per prompt: 8192 x 64 B = 512 KB, about 130k tokens. The Go reference stops at 256 blocks
 * (16 KB), which makes every long prompt with a common 16 KB preamble look identical.
 */
export const DEFAULT_MAX_PREFIX_BLOCKS = 8192;
/** Block keys are `index * 2^32 + hash32`, exact in a double while index < 2^21. */
const MAX_BLOCKS_LIMIT = 1 << 20;
const TWO_POW_32 = 4294967296;

export interface PrefixHasherOptions {
  /** Block size in UTF-8 bytes (token ids count 4 bytes each). @default DEFAULT_BLOCK_SIZE_BYTES */
  readonly blockSize?: number;
  /** Prompt bytes beyond `blockSize * maxBlocks` are ignored. @default DEFAULT_MAX_PREFIX_BLOCKS */
  readonly maxBlocks?: number;
}

/**
 * Synchronous, allocation-light prompt hashing. Not re-entrant (one scratch buffer), which is fine on the single
 * JavaScript thread. Each returned key is `blockIndex * 2^32 + h`, where `h` chains every earlier block, the
 * model and the cache salt, so equal keys mean (with high probability) equal prefixes up to that block; the index
 * term keeps keys of different depths apart, widening 32-bit hashes to ~53-bit keys without BigInt.
 */
export interface PrefixHasher {
  readonly blockSize: number;
  readonly maxBlocks: number;
  /** Hashes the prompt of an already-parsed request body; `model` overrides `body.model` (e.g. after a rewrite). */
  hashBody(body: unknown, model?: string): Float64Array;
  /** Hashes plain prompt text. */
  hashText(text: string, model: string, cacheSalt?: string): Float64Array;
}

let api: Promise<XXHashAPI> | undefined;

/** The WebAssembly module is compiled once per process, on first use rather than at import. */
function loadXxhash(): Promise<XXHashAPI> {
  api ??= xxhash();
  return api;
}

export async function createPrefixHasher(options: PrefixHasherOptions = {}): Promise<PrefixHasher> {
  const blockSize = requireIntegerInRange('blockSize', options.blockSize ?? DEFAULT_BLOCK_SIZE_BYTES, 1, 1 << 16);
  const maxBlocks = requireIntegerInRange('maxBlocks', options.maxBlocks ?? DEFAULT_MAX_PREFIX_BLOCKS, 1, MAX_BLOCKS_LIMIT);
  return new XxPrefixHasher(await loadXxhash(), blockSize, maxBlocks);
}

class XxPrefixHasher implements PrefixHasher, PromptSink {
  private readonly encoder = new TextEncoder();
  /** Bounded scratch: the prompt is encoded once into it, then hashed block by block in place. */
  private readonly buf: Uint8Array;
  private readonly view: DataView;
  private readonly limit: number;
  private used = 0;

  constructor(
    private readonly xx: XXHashAPI,
    readonly blockSize: number,
    readonly maxBlocks: number,
  ) {
    this.limit = blockSize * maxBlocks;
    this.buf = new Uint8Array(this.limit);
    this.view = new DataView(this.buf.buffer);
  }

  hashBody(body: unknown, model?: string): Float64Array {
    let name = model;
    let salt: string | undefined;
    if (typeof body === 'object' && body !== null) {
      const b = body as { model?: unknown; cache_salt?: unknown };
      if (name === undefined && typeof b.model === 'string') name = b.model;
      if (typeof b.cache_salt === 'string') salt = b.cache_salt;
    }
    this.used = 0;
    writePrompt(body, this);
    return this.digest(name ?? '', salt);
  }

  hashText(text: string, model: string, cacheSalt?: string): Float64Array {
    this.used = 0;
    this.text(text);
    return this.digest(model, cacheSalt);
  }

  // PromptSink: encode straight into the scratch buffer; stop quietly once it is full.
  text(piece: string): void {
    if (this.used >= this.limit || piece.length === 0) return;
    this.used += this.encoder.encodeInto(piece, this.buf.subarray(this.used)).written;
  }

  token(id: number): void {
    if (this.used + 4 > this.limit) return;
    this.view.setUint32(this.used, id >>> 0, true);
    this.used += 4;
  }

  boundary(code: number): void {
    if (this.used < this.limit) this.buf[this.used++] = code;
  }

  /** O(bytes): one xxh32 call per block, seeded with the previous block's hash. A partial last block is ignored. */
  private digest(model: string, salt: string | undefined): Float64Array {
    const bs = this.blockSize;
    const blocks = Math.floor(this.used / bs);
    const out = new Float64Array(blocks);
    if (blocks === 0) return out;
    const xx = this.xx;
    let h = this.xx.h32(salt === undefined ? model : `${model}\u0000${salt}`, 0);
    for (let i = 0; i < blocks; i++) {
      h = xx.h32Raw(this.buf.subarray(i * bs, i * bs + bs), h);
      out[i] = i * TWO_POW_32 + h;
    }
    return out;
  }
}
