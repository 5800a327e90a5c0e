import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/core/index.js';
import {
  BlockTable,
  DEFAULT_BLOCK_SIZE_BYTES,
  DEFAULT_LRU_CAPACITY_PER_ENDPOINT,
  DEFAULT_MAX_PREFIX_BLOCKS,
  DEFAULT_DENSE_BLOCKS,
  DEFAULT_KEY_EVERY,
  PrefixIndex,
  type PrefixHasher,
  createPrefixHasher,
  createPrefixHasherSync,
  keyBlocks,
  keyCount,
  murmur3,
  prefixDepthBlocks,
} from '../../../src/scheduler/index.js';
import { validateConfig } from '../../../src/config/index.js';

let hasher: PrefixHasher;
beforeAll(async () => {
  hasher = await createPrefixHasher();
});

const text = (n: number, seed = 'x'): string => {
  const unit = `${seed} lorem ipsum dolor sit amet, consectetur adipiscing elit `;
  return unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
};

describe('prefix hasher', () => {
  it('cuts the prompt into 64-byte blocks and ignores a partial last block', () => {
    expect(hasher.hashText(text(63), 'm').length).toBe(0);
    expect(hasher.hashText(text(64), 'm').length).toBe(1);
    expect(hasher.hashText(text(200), 'm').length).toBe(3);
  });

  it('is deterministic across hasher instances and chains: a shared prefix shares its leading keys', async () => {
    const other = await createPrefixHasher();
    const a = hasher.hashText(text(640), 'm');
    const b = other.hashText(`${text(320)}${'z'.repeat(320)}`, 'm');
    expect([...a.slice(0, 5)]).toEqual([...b.slice(0, 5)]);
    expect(a[5]).not.toBe(b[5]);
  });

  it('seeds with model and cache_salt: either one changes every key', () => {
    const base = hasher.hashBody({ model: 'm', prompt: text(256) });
    const otherModel = hasher.hashBody({ model: 'n', prompt: text(256) });
    const salted = hasher.hashBody({ model: 'm', prompt: text(256), cache_salt: 'tenant-a' });
    const overridden = hasher.hashBody({ model: 'n', prompt: text(256) }, 'm');
    for (let i = 0; i < base.length; i++) {
      expect(otherModel[i]).not.toBe(base[i]);
      expect(salted[i]).not.toBe(base[i]);
    }
    expect([...overridden]).toEqual([...base]);
  });

  it('reads completions prompt (string, string[], token ids), chat messages and input', () => {
    expect(hasher.hashBody({ model: 'm', prompt: [text(100), text(100)] }).length).toBe(3);
    expect(hasher.hashBody({ model: 'm', prompt: Array.from({ length: 48 }, (_, i) => i) }).length).toBe(3); // 4 bytes per token
    expect(hasher.hashBody({ model: 'm', input: text(128) }).length).toBe(2);
    expect(hasher.hashBody({ model: 'm', input: [{ role: 'user', content: [{ type: 'input_text', text: text(128) }] }] }).length).toBe(2);
    expect(hasher.hashBody({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: text(130) }] }] }).length).toBe(2);
  });

  it('a grown chat conversation extends the keys of the shorter one', () => {
    const first = [
      { role: 'system', content: 'You are a helpful assistant that answers questions about caching in detail.' },
      { role: 'user', content: 'Hello, how are you? Please explain prefix caching in a few sentences.' },
    ];
    const grown = [...first, { role: 'assistant', content: text(200) }, { role: 'user', content: text(100, 'q') }];
    const a = hasher.hashBody({ model: 'm', messages: first });
    const b = hasher.hashBody({ model: 'm', messages: grown });
    expect(a.length).toBeGreaterThan(1);
    expect(b.length).toBeGreaterThan(a.length);
    expect([...b.slice(0, a.length)]).toEqual([...a]);
  });

  it('returns no keys for bodies without a prompt, without throwing', () => {
    for (const body of [null, 42, 'text', [], { model: 'm' }, { messages: 'nope' }, { prompt: { a: 1 } }]) {
      expect(hasher.hashBody(body).length).toBe(0);
    }
  });

  it('caps the hashed prompt at maxBlocks', async () => {
    const small = await createPrefixHasher({ maxBlocks: 10 });
    expect(small.hashText(text(100_000), 'm').length).toBe(10);
  });

  it('hashes non-ASCII text as UTF-8', () => {
    expect(hasher.hashText('é'.repeat(32), 'm').length).toBe(1); // 64 bytes
  });

  it('rejects invalid options naming the field', async () => {
    await expect(createPrefixHasher({ blockSize: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(createPrefixHasher({ maxBlocks: 1.5 })).rejects.toThrow(/maxBlocks/);
    await expect(createPrefixHasher({ keyEvery: 0 })).rejects.toThrow(/keyEvery/);
    await expect(createPrefixHasher({ denseBlocks: -1 })).rejects.toThrow(/denseBlocks/);
  });

  it('hashes a 400 KB prompt whole, the same twice (its speed is measured by bench/scheduler, not here)', () => {
    const body = JSON.parse(JSON.stringify({ model: 'm', prompt: text(400_000) })) as unknown;
    const first = Array.from(hasher.hashBody(body));
    const keys = hasher.hashBody(body);
    expect(keys.length).toBe(keyCount(6250, DEFAULT_DENSE_BLOCKS, DEFAULT_KEY_EVERY));
    expect(keyBlocks(keys, keys.length)).toBe(6250);
    expect(Array.from(keys)).toEqual(first);
  });

  it('keys each block of the dense head, then every keyEvery-th block and the last: the keys a hasher of every block gives there (property)', () => {
    const everyBlock = createPrefixHasherSync({ blockSize: 16, keyEvery: 1 });
    fc.assert(
      fc.property(fc.nat(1200), fc.nat(20), fc.integer({ min: 1, max: 9 }), (length, dense, every) => {
        const all = Array.from(everyBlock.hashText(text(length), 'm'));
        const keyed = Array.from(createPrefixHasherSync({ blockSize: 16, denseBlocks: dense, keyEvery: every }).hashText(text(length), 'm'));
        const expected = all.filter((_, i) => i < dense || (i + 1) % every === 0 || i === all.length - 1);
        expect(keyed).toEqual(expected);
        expect(keyed.length).toBe(keyCount(all.length, dense, every));
        expect(keyBlocks(keyed, keyed.length)).toBe(all.length);
      }),
      { numRuns: 200 },
    );
  });
});

describe('hashing depth (Go / llm-d parameter names)', () => {
  it('takes maxPrefixBlocksToMatch, lowered by maxPrefixTokensToMatch at 4 bytes per token', () => {
    expect(prefixDepthBlocks({ blockSize: 64, maxPrefixBlocksToMatch: 8192 })).toBe(8192);
    expect(prefixDepthBlocks({ blockSize: 64, maxPrefixBlocksToMatch: 8192, maxPrefixTokensToMatch: 1000 })).toBe(63);
    expect(prefixDepthBlocks({ blockSize: 64, maxPrefixBlocksToMatch: 10, maxPrefixTokensToMatch: 100_000 })).toBe(10);
    expect(prefixDepthBlocks({ blockSize: 64, maxPrefixBlocksToMatch: 10, maxPrefixTokensToMatch: 1 })).toBe(1);
  });

  it('is configured under scheduler.prefix with the defaults the hasher and index use', () => {
    const c = validateConfig({});
    expect(c.scheduler.prefix).toEqual({
      blockSize: DEFAULT_BLOCK_SIZE_BYTES,
      maxPrefixBlocksToMatch: DEFAULT_MAX_PREFIX_BLOCKS,
      lruCapacityPerServer: DEFAULT_LRU_CAPACITY_PER_ENDPOINT,
      denseBlocks: DEFAULT_DENSE_BLOCKS,
      keyEvery: DEFAULT_KEY_EVERY,
    });
    expect(() => validateConfig({ scheduler: { prefix: { maxPrefixBlocksToMatch: 0 } } })).toThrow(/maxPrefixBlocksToMatch/);
  });
});

describe('block hash', () => {
  it('is MurmurHash3 x86_32 (reference vectors)', () => {
    const h = (s: string, seed: number): number => murmur3(Buffer.from(s), 0, Buffer.byteLength(s), seed);
    expect(h('', 0)).toBe(0);
    expect(h('', 1)).toBe(0x514e28b7);
    expect(h('hello', 0)).toBe(0x248bfa47);
    expect(h('Hello, world!', 1234)).toBe(0xfaf6cdb3);
    expect(h('The quick brown fox jumps over the lazy dog', 0)).toBe(0x2e4ff723);
  });

  it('hashes whole-word blocks a word at a time exactly as byte by byte', () => {
    const text = 'é1234567'.repeat(100);
    const fast = createPrefixHasherSync({ blockSize: 64 }).hashText(text, 'm');
    // The same chain computed with the byte-wise function: seed from the model, one block at a time.
    const bytes = Buffer.from(text);
    let seed = murmur3(Buffer.from('m'), 0, 1, 0);
    const slow = Array.from({ length: Math.floor(bytes.length / 64) }, (_, i) => (seed = murmur3(bytes, i * 64, 64, seed)) + i * 2 ** 32);
    expect([...fast]).toEqual(slow);
  });
});

describe('block table and prefix index', () => {
  it('forgets the oldest request first, keeping its keys that a newer request recorded again', () => {
    const table = new BlockTable(4);
    table.add([1, 2]);
    table.add([3, 4]);
    table.add([1, 5]); // 1 recorded again; 5 takes the table over capacity: [1, 2] goes, 1 stays
    expect([1, 2, 3, 4, 5].map((k) => table.has(k))).toEqual([true, false, true, true, true]);
    expect(table.size).toBe(4);
    table.add([6]); // over again: [3, 4] goes
    expect([1, 3, 4, 5, 6].map((k) => table.has(k))).toEqual([true, false, false, true, true]);
  });

  it('withdraws a request\'s own keys beyond those held before it (a fallback served it), leaving newer owners alone', () => {
    const table = new BlockTable(100);
    table.add([1, 2]); // held before
    const seq = table.add([1, 2, 3, 4, 5]);
    table.add([5, 6]); // a newer request recorded 5 again: it stays
    table.withdraw([1, 2, 3, 4, 5], 2, seq);
    expect([1, 2, 3, 4, 5, 6].map((k) => table.has(k))).toEqual([true, true, false, false, true, true]);
    expect(table.size).toBe(4);
    // Withdrawn keys can be recorded again, and forgetting the withdrawn request later counts nothing twice.
    table.add([3]);
    expect(table.has(3)).toBe(true);
    expect(table.size).toBe(5);
    const small = new BlockTable(3);
    const first = small.add([7, 8, 9]);
    small.withdraw([7, 8, 9], 0, first);
    expect(small.size).toBe(0);
    small.add([10, 11, 12]);
    small.add([13]); // over capacity: the withdrawn request goes first, then the next oldest as needed
    expect(small.size).toBeLessThanOrEqual(3);
    expect(small.has(13)).toBe(true);
  });

  it('records at most capacity keys of one request, from its first block', () => {
    const table = new BlockTable(3);
    table.add([10, 11, 12, 13, 14]);
    expect([10, 11, 12, 13, 14].map((k) => table.has(k))).toEqual([true, true, true, false, false]);
  });

  it('stays bounded when the same request repeats for ever', () => {
    const table = new BlockTable(8);
    const keys = [1, 2, 3, 4];
    for (let i = 0; i < 10_000; i++) table.add(keys);
    expect(table.size).toBe(4);
    expect(keys.every((k) => table.has(k))).toBe(true);
  });

  it('finds every key after growing and after deletions moved entries', () => {
    const table = new BlockTable(5_000);
    // Keys of several depths (high part) with distinct hashes; each request of 100 starts at depth 0, as the hasher's do.
    const keys = Array.from({ length: 5_000 }, (_, i) => ((i % 100) % 7) * 2 ** 32 + ((i * 2654435761) >>> 0));
    for (let i = 0; i < keys.length; i += 100) table.add(keys.slice(i, i + 100));
    expect(keys.every((k) => table.has(k))).toBe(true);
    table.add(keys.slice(0, 2_500)); // the first 25 requests recorded again, then the next 25 forgotten
    expect(keys.slice(0, 2_500).every((k) => table.has(k))).toBe(true);
    expect(table.size).toBeLessThanOrEqual(5_000);
    expect(table.has(7 * 2 ** 32 + 12345)).toBe(false);
  });

  it('finds the longest matched prefix per endpoint', () => {
    const index = new PrefixIndex();
    const keys = Array.from({ length: 100 }, (_, i) => i * 7 + 1);
    index.record(keys.slice(0, 37), 'a');
    index.record(keys, 'b');
    expect(index.matchLength(keys, 'a')).toBe(37);
    expect(index.matchLength(keys, 'b')).toBe(100);
    expect(index.matchLength(keys, 'c')).toBe(0);
    expect(index.matchLength([999, ...keys], 'b')).toBe(0);
  });

  it('keeps what an endpoint holds prefix-closed under eviction', () => {
    const index = new PrefixIndex({ defaultCapacity: 10 });
    const keys = Array.from({ length: 25 }, (_, i) => 1000 + i);
    index.record(keys, 'a');
    expect(index.size('a')).toBe(10);
    expect(index.matchLength(keys, 'a')).toBe(10);
  });

  it('drops endpoints that left the pool', () => {
    const index = new PrefixIndex();
    index.record([1, 2], 'a');
    index.record([1, 2], 'b');
    index.retainOnly((id) => id === 'b');
    expect(index.endpointIds()).toEqual(['b']);
  });
});
