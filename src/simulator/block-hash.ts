// Chained block hashes for the prefix cache, and the cheap tokenizer approximation they rest on.
//
// Tokenization is approximated as 4 characters per token (CHARS_PER_TOKEN), so a 16-token block is 64
// characters of prompt text. That is close enough to BPE on English text for load modelling and costs O(1) for
// the count; hashing is O(prompt length) with no allocation per character.

export const CHARS_PER_TOKEN = 4;

/** Approximate token count of a text: ceil(chars / 4). */
export function countTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

// Two independent 32-bit lanes (FNV-1a and a murmur-style mix) combined into a 53-bit integer, so collisions
// among the few hundred thousand blocks of one server are negligible and the result is an exact JS number.
const LANE_A_SEED = 0x811c9dc5;
const LANE_B_SEED = 0x9747b28c;

function combine(a: number, b: number): number {
  return (a >>> 0) * 2097152 + (b >>> 11);
}

function seedLanes(salt: string): [number, number] {
  let a = LANE_A_SEED;
  let b = LANE_B_SEED;
  for (let i = 0; i < salt.length; i++) {
    const c = salt.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return [a, b];
}

/**
 * Hashes of the full blocks of a text prompt, each chained on its predecessor (so equal hashes mean equal
 * prefixes), seeded with `salt` (model, LoRA adapter and cache_salt). Block i covers characters
 * [i*64, i*64 + 64); only `floor(tokens / blockSize)` blocks are hashed.
 */
export function textBlockHashes(text: string, blockSize: number, salt: string): number[] {
  const fullBlocks = Math.floor(countTokens(text) / blockSize);
  const charsPerBlock = blockSize * CHARS_PER_TOKEN;
  const hashes = new Array<number>(fullBlocks);
  let [a, b] = seedLanes(salt);
  for (let blk = 0; blk < fullBlocks; blk++) {
    const end = Math.min(text.length, (blk + 1) * charsPerBlock);
    for (let i = blk * charsPerBlock; i < end; i++) {
      const c = text.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
    }
    hashes[blk] = combine(a, b);
    // Fold the block boundary into the chain so "ab|c" and "a|bc" differ.
    a = Math.imul(a ^ 0xff, 0x01000193);
    b = Math.imul(b ^ 0xff, 0x5bd1e995);
  }
  return hashes;
}

/** Same as {@link textBlockHashes} for a prompt given as token ids. */
export function tokenBlockHashes(tokens: readonly number[], blockSize: number, salt: string): number[] {
  const fullBlocks = Math.floor(tokens.length / blockSize);
  const hashes = new Array<number>(fullBlocks);
  let [a, b] = seedLanes(salt);
  for (let blk = 0; blk < fullBlocks; blk++) {
    for (let i = blk * blockSize; i < (blk + 1) * blockSize; i++) {
      const t = tokens[i] ?? 0;
      a = Math.imul(a ^ t, 0x01000193);
      b = Math.imul(b ^ t, 0x5bd1e995);
      b ^= b >>> 15;
    }
    hashes[blk] = combine(a, b);
    a = Math.imul(a ^ 0xff, 0x01000193);
    b = Math.imul(b ^ 0xff, 0x5bd1e995);
  }
  return hashes;
}
