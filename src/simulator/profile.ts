// Hardware/model profiles: the constants of the step-time model and the engine limits of one simulated server.
import { ConfigError, InvalidArgumentError, requireFiniteNonNegative, requireIntegerInRange } from '../core/index.js';

/**
 * Step time `T = b0 + b1*X + b2*Y + b3*C` (X uncached prefill tokens, Y decoding sequences, C context tokens of
 * the decoding sequences) and per-request API overhead `a0 + a1*promptTokens`, all in milliseconds.
 */
export interface SimProfile {
  readonly name: string;
  /** Fixed cost of one engine step (ms). */
  readonly b0: number;
  /** Cost per uncached prefill token in the step (ms). */
  readonly b1: number;
  /** Cost per decoding sequence in the step (ms). */
  readonly b2: number;
  /** Cost per context token read by the decoding sequences (ms). */
  readonly b3: number;
  /** Fixed API-server overhead before queueing (ms). */
  readonly a0: number;
  /** API overhead per prompt token (ms): tokenization and request processing. */
  readonly a1: number;
  readonly numBlocks: number;
  readonly blockSize: number;
  /** Most sequences in one batch (vLLM `max_num_seqs`). */
  readonly maxNumSeqs: number;
  /** Token budget of one step (vLLM `max_num_batched_tokens`); prefill chunks fill what decodes leave. */
  readonly maxNumBatchedTokens: number;
  /** Context window (vLLM `max_model_len`): prompt + output must fit. */
  readonly maxModelLen: number;
}

/**
 * vLLM 0.8.4 serving Llama-3.1-8B on one H100, as fitted by llm-d's BLIS simulator; b3 from 128 KB of KV per
 * token read at 3.35 TB/s with a 1.9 correction. maxModelLen is Llama-3.1's 128k window.
 */
export const H100_8B_PROFILE: SimProfile = Object.freeze({
  name: 'h100-8b',
  b0: 5.75,
  b1: 0.01725,
  b2: 0.006,
  b3: 0.000075,
  a0: 0.23,
  a1: 0.00175,
  numBlocks: 29_205,
  blockSize: 16,
  maxNumSeqs: 256,
  maxNumBatchedTokens: 8192,
  maxModelLen: 131_072,
});

/**
 * A small server for tests and benchmarks: 32 sequences, 2,048 blocks of 16, 2,048 batched tokens. b0 is raised
 * to 7.5 ms (the H100 fit has 5.75) so that it saturates at about 25 req/s with 512-token prompts and 128-token
 * outputs: at 25 req/s each request holds a slot for ~128 steps, and 32 slots allow steps of at most
 * 32 / (25 * 128) = 10 ms, which b0 = 7.5 ms plus the prefill share (12,800 tokens/s * 17.25 us) reaches.
 * With 1,024/256 it is KV-bound: 32 * 1,280 tokens need 2,560 blocks > 2,048.
 */
export const CI_PROFILE: SimProfile = Object.freeze({
  name: 'ci',
  b0: 7.5,
  b1: 0.01725,
  b2: 0.006,
  b3: 0.000075,
  a0: 0.23,
  a1: 0.00175,
  numBlocks: 2048,
  blockSize: 16,
  maxNumSeqs: 32,
  maxNumBatchedTokens: 2048,
  maxModelLen: 4096,
});

export type ProfileName = 'ci' | 'h100-8b';

export const PROFILES: Readonly<Record<ProfileName, SimProfile>> = Object.freeze({
  ci: CI_PROFILE,
  'h100-8b': H100_8B_PROFILE,
});

export function isProfileName(name: string): name is ProfileName {
  return Object.prototype.hasOwnProperty.call(PROFILES, name);
}

/** Looks a profile up by name; the error lists the known names. */
export function getProfile(name: string): SimProfile {
  if (!isProfileName(name)) {
    throw new InvalidArgumentError('profile', name, `one of ${Object.keys(PROFILES).join(', ')}`);
  }
  return PROFILES[name];
}

/** Checks a (possibly hand-made) profile once; returns it frozen. */
export function validateProfile(profile: SimProfile): SimProfile {
  for (const key of ['b0', 'b1', 'b2', 'b3', 'a0', 'a1'] as const) {
    requireFiniteNonNegative(`profile.${key}`, profile[key]);
  }
  requireIntegerInRange('profile.numBlocks', profile.numBlocks, 1, 1 << 24);
  requireIntegerInRange('profile.blockSize', profile.blockSize, 1, 1 << 16);
  requireIntegerInRange('profile.maxNumSeqs', profile.maxNumSeqs, 1, 1 << 16);
  requireIntegerInRange('profile.maxNumBatchedTokens', profile.maxNumBatchedTokens, 1, 1 << 24);
  requireIntegerInRange('profile.maxModelLen', profile.maxModelLen, 2, 1 << 26);
  // A request that fits the window must fit the KV pool alone, or it could never be admitted (or would preempt
  // itself forever): vLLM refuses to start in that case too.
  if (profile.maxModelLen > profile.numBlocks * profile.blockSize) {
    throw new ConfigError(
      'profile.maxModelLen',
      `${profile.maxModelLen} tokens exceed the KV pool of ${profile.numBlocks} x ${profile.blockSize} tokens`,
    );
  }
  return Object.isFrozen(profile) ? profile : Object.freeze({ ...profile });
}
