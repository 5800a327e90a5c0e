// Cuts a prompt into fixed-size blocks and chains their hashes (MurmurHash3, 32-bit), seeded by model and salt.
import { requireIntegerInRange } from '../../core/index.js';
import { type PromptSink, type PromptText, writePrompt } from './prompt-text.js';

/** vLLM's 16-token block at ~4 characters per token; the Go reference's default. */
export const DEFAULT_BLOCK_SIZE_BYTES = 64;
/**
 * Blocks hashed per prompt: 8192 x 64 B = 512 KB, about 130k tokens (a whole 128k-token context). The Go reference
 * stops at 256 blocks (16 KB), which makes every long prompt with a common 16 KB preamble look identical. Chosen by
 * bench/scheduler/prefix-depth.ts (figures in bench/README.md): agent traffic behind a 6k-token system prompt keeps
 * 77% of prompt tokens cached at this depth against 54% at 256 blocks, and behind a 30k-token shared document its
 * TTFT p99 is 30% lower than at 4096 blocks; nothing deeper helps.
 */
export const DEFAULT_MAX_PREFIX_BLOCKS = 8192;
/** Block keys are `index * 2^32 + hash32`, exact in a double while index < 2^21. */
const MAX_BLOCKS_LIMIT = 1 << 20;
const TWO_POW_32 = 4294967296;

/** The block index of a key (its high part): the key stands for the prompt up to the end of that block. O(1). */
export function keyBlockIndex(key: number): number {
  return Math.floor(key / TWO_POW_32);
}

/** Bytes per token in the estimates that convert a token bound into blocks. */
const BYTES_PER_TOKEN = 4;

/**
 * The hashing depth in blocks from the Go EPP's / llm-d's parameters: `maxPrefixBlocksToMatch`, lowered by
 * `maxPrefixTokensToMatch` (at 4 bytes per token) when that is given.
 */
export function prefixDepthBlocks(p: { readonly blockSize: number; readonly maxPrefixBlocksToMatch: number; readonly maxPrefixTokensToMatch?: number | undefined }): number {
  if (p.maxPrefixTokensToMatch === undefined) return p.maxPrefixBlocksToMatch;
  return Math.max(1, Math.min(p.maxPrefixBlocksToMatch, Math.ceil((p.maxPrefixTokensToMatch * BYTES_PER_TOKEN) / p.blockSize)));
}

export interface PrefixHasherOptions {
  /** Block size in UTF-8 bytes (token ids count 4 bytes each). @default DEFAULT_BLOCK_SIZE_BYTES */
  readonly blockSize?: number;
  /** Prompt bytes beyond `blockSize * maxBlocks` are ignored. @default DEFAULT_MAX_PREFIX_BLOCKS */
  readonly maxBlocks?: number;
  /** A key for each of the first `denseBlocks` blocks. @default DEFAULT_DENSE_BLOCKS */
  readonly denseBlocks?: number;
  /**
   * Past the dense head, a key for every `keyEvery`-th block only (blocks `keyEvery - 1`, `2 * keyEvery - 1`, ...)
   * and for the last: fewer keys to record and look up for a long prompt, matched to within `keyEvery` blocks
   * there. 1 keys every block. @default DEFAULT_KEY_EVERY
   */
  readonly keyEvery?: number;
}

/** Blocks keyed one by one at the start of every prompt (16 KB: the Go reference's whole depth). */
export const DEFAULT_DENSE_BLOCKS = 256;
/** Past the dense head, a key per 8 blocks (512 bytes, ~128 tokens). */
export const DEFAULT_KEY_EVERY = 8;

/** Keys of a prompt of `blocks` blocks: every block below `dense`, then every `every`-th, then the last. */
export function keyCount(blocks: number, dense: number, every: number): number {
  if (blocks <= dense) return blocks;
  return dense + Math.floor(blocks / every) - Math.floor(dense / every) + (blocks % every === 0 ? 0 : 1);
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

/** Async for API stability (an earlier hash needed a WebAssembly module); resolves at once. */
export async function createPrefixHasher(options: PrefixHasherOptions = {}): Promise<PrefixHasher> {
  return createPrefixHasherSync(options);
}

export function createPrefixHasherSync(options: PrefixHasherOptions = {}): PrefixHasher {
  const blockSize = requireIntegerInRange('blockSize', options.blockSize ?? DEFAULT_BLOCK_SIZE_BYTES, 1, 1 << 16);
  const maxBlocks = requireIntegerInRange('maxBlocks', options.maxBlocks ?? DEFAULT_MAX_PREFIX_BLOCKS, 1, MAX_BLOCKS_LIMIT);
  const denseBlocks = requireIntegerInRange('denseBlocks', options.denseBlocks ?? DEFAULT_DENSE_BLOCKS, 0, MAX_BLOCKS_LIMIT);
  const keyEvery = requireIntegerInRange('keyEvery', options.keyEvery ?? DEFAULT_KEY_EVERY, 1, 1 << 16);
  return new MurmurPrefixHasher(blockSize, maxBlocks, denseBlocks, keyEvery);
}

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** One 32-bit word into the running MurmurHash3 state. */
function mixWord(h: number, word: number): number {
  let k = Math.imul(word, C1);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, C2);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finish(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** MurmurHash3 x86_32 of `bytes[start, start + length)`, little-endian words, any alignment. */
export function murmur3(bytes: Uint8Array, start: number, length: number, seed: number): number {
  let h = seed | 0;
  const end = start + length;
  const whole = start + (length & ~3);
  let i = start;
  for (; i < whole; i += 4) {
    h = mixWord(h, (bytes[i] as number) | ((bytes[i + 1] as number) << 8) | ((bytes[i + 2] as number) << 16) | ((bytes[i + 3] as number) << 24));
  }
  if (i < end) {
    let k = 0;
    for (let shift = 0; i < end; i++, shift += 8) k |= (bytes[i] as number) << shift;
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, C2);
  }
  return finish(h, length);
}

/** Little-endian platforms (all Node targets in practice) may read the scratch buffer a word at a time. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

class MurmurPrefixHasher implements PrefixHasher, PromptSink {
  private readonly encoder = new TextEncoder();
  /** Bounded scratch: the prompt is encoded once into it, then hashed block by block in place. */
  private readonly buf: Uint8Array;
  /** Word view of `buf`, when blocks are whole words on a little-endian machine (the fast path). */
  private readonly words: Int32Array | undefined;
  private readonly view: DataView;
  private readonly limit: number;
  private used = 0;

  constructor(
    readonly blockSize: number,
    readonly maxBlocks: number,
    private readonly denseBlocks: number,
    private readonly keyEvery: number,
  ) {
    this.limit = blockSize * maxBlocks;
    const backing = new ArrayBuffer(Math.ceil(this.limit / 4) * 4);
    this.buf = new Uint8Array(backing, 0, this.limit);
    this.words = blockSize % 4 === 0 && LITTLE_ENDIAN ? new Int32Array(backing) : undefined;
    this.view = new DataView(backing);
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
  text(piece: PromptText): void {
    if (this.used >= this.limit) return;
    if (typeof piece !== 'string') this.used += piece.writeUtf8(this.buf, this.used);
    else if (piece.length > 0) this.used += this.encoder.encodeInto(piece, this.buf.subarray(this.used)).written;
  }

  token(id: number): void {
    if (this.used + 4 > this.limit) return;
    this.view.setUint32(this.used, id >>> 0, true);
    this.used += 4;
  }

  boundary(code: number): void {
    if (this.used < this.limit) this.buf[this.used++] = code;
  }

  /**
   * O(bytes): one MurmurHash3 per block, seeded with the previous block's hash; keys for the blocks the schedule
   * names (see {@link keyCount}). A partial last block is ignored.
   */
  private digest(model: string, salt: string | undefined): Float64Array {
    const bs = this.blockSize;
    const blocks = Math.floor(this.used / bs);
    const dense = this.denseBlocks;
    const every = this.keyEvery;
    const out = new Float64Array(keyCount(blocks, dense, every));
    if (blocks === 0) return out;
    const seedBytes = this.encoder.encode(salt === undefined ? model : `${model}\u0000${salt}`);
    let h = murmur3(seedBytes, 0, seedBytes.length, 0);
    const last = blocks - 1;
    let k = 0;
    const words = this.words;
    if (words !== undefined) {
      const perBlock = bs >> 2;
      for (let i = 0, w = 0; i < blocks; i++) {
        let x = h;
        for (const end = w + perBlock; w < end; w++) x = mixWord(x, words[w] as number);
        h = finish(x, bs);
        if (i < dense || (i + 1) % every === 0 || i === last) out[k++] = i * TWO_POW_32 + h;
      }
      return out;
    }
    for (let i = 0; i < blocks; i++) {
      h = murmur3(this.buf, i * bs, bs, h);
      if (i < dense || (i + 1) % every === 0 || i === last) out[k++] = i * TWO_POW_32 + h;
    }
    return out;
  }
}
