// /metrics text: vLLM names, labels and Prometheus framing, fed by a real engine in virtual time.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import { CI_PROFILE, SimEngine, SimMetrics, parseFakeMetrics } from '../../../src/simulator/index.js';

function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  expect(line, series).toBeDefined();
  return Number(line!.slice(series.length + 1));
}

const L = 'engine="0",model_name="m"';

function setup(maxLoras?: number): { clock: ManualClock; engine: SimEngine; metrics: SimMetrics } {
  const clock = new ManualClock();
  const engine = new SimEngine({ profile: CI_PROFILE, clock });
  const metrics = new SimMetrics({ engine, model: 'm', maxLoras, wallClock: () => 1_700_000_000_000 });
  return { clock, engine, metrics };
}

describe('SimMetrics', () => {
  it('reports counters and histograms with vLLM names after requests complete', () => {
    const { clock, engine, metrics } = setup();
    const hashes = [1, 2, 3, 4];
    engine.submit({ promptTokens: 70, outputTokens: 5, maxTokens: 5, blockHashes: hashes });
    clock.runAll();
    engine.submit({ promptTokens: 70, outputTokens: 10, maxTokens: 10, blockHashes: hashes });
    const aborted = engine.submit({ promptTokens: 10, outputTokens: 10, maxTokens: 10 });
    engine.abort(aborted);
    clock.runAll();
    const text = metrics.render();
    expect(sample(text, `vllm:prompt_tokens_total{${L}}`)).toBe(140);
    expect(sample(text, `vllm:generation_tokens_total{${L}}`)).toBe(15);
    expect(sample(text, `vllm:prefix_cache_queries_total{${L}}`)).toBe(140);
    expect(sample(text, `vllm:prefix_cache_hits_total{${L}}`)).toBe(64);
    expect(sample(text, `vllm:request_success_total{${L},finished_reason="length"}`)).toBe(2);
    expect(sample(text, `vllm:request_success_total{${L},finished_reason="abort"}`)).toBe(1);
    expect(sample(text, `vllm:num_preemptions_total{${L}}`)).toBe(0);
    expect(sample(text, `vllm:time_to_first_token_seconds_count{${L}}`)).toBe(2);
    expect(sample(text, `vllm:inter_token_latency_seconds_count{${L}}`)).toBe(13);
    expect(sample(text, `vllm:e2e_request_latency_seconds_count{${L}}`)).toBe(3);
    expect(sample(text, `vllm:request_queue_time_seconds_count{${L}}`)).toBe(2);
    expect(sample(text, `vllm:time_to_first_token_seconds_bucket{${L},le="+Inf"}`)).toBe(2);
    expect(sample(text, `vllm:kv_cache_usage_perc{${L}}`)).toBe(0);
    expect(text).toContain('# TYPE vllm:num_preemptions_total counter');
    expect(text).toContain('# TYPE vllm:time_to_first_token_seconds histogram');
    expect(text).toContain('vllm:cache_config_info{block_size="16",cache_dtype="auto",enable_prefix_caching="True",engine="0",num_gpu_blocks="2048"} 1.0');
    expect(text).not.toContain('lora_requests_info');
    // Cumulative buckets never decrease.
    const buckets = text.split('\n').filter((l) => l.startsWith('vllm:inter_token_latency_seconds_bucket')).map((l) => Number(l.split(' ')[1]));
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]).toBeGreaterThanOrEqual(buckets[i - 1]!);
  });

  it('reads gauges at scrape time and lets fake metrics override them', () => {
    const { clock, engine, metrics } = setup(2);
    engine.submit({ promptTokens: 512, outputTokens: 100, maxTokens: 100, lora: 'sql' });
    clock.advance(20);
    let text = metrics.render();
    expect(sample(text, `vllm:num_requests_running{${L}}`)).toBe(1);
    expect(sample(text, `vllm:kv_cache_usage_perc{${L}}`)).toBeCloseTo(33 / 2048, 9);
    expect(sample(text, 'vllm:lora_requests_info{max_lora="2",running_lora_adapters="sql",waiting_lora_adapters=""}')).toBe(1_700_000_000);
    metrics.setFake(parseFakeMetrics({ waiting: 7, kvUsage: 0.5, loraRunning: ['a', 'b'] }));
    text = metrics.render();
    expect(sample(text, `vllm:num_requests_waiting{${L}}`)).toBe(7);
    expect(sample(text, `vllm:num_requests_running{${L}}`)).toBe(1);
    expect(sample(text, `vllm:kv_cache_usage_perc{${L}}`)).toBe(0.5);
    expect(text).toContain('running_lora_adapters="a,b"');
  });

  it('rejects malformed fake metrics naming the field', () => {
    expect(() => parseFakeMetrics({ kvUsage: 2 })).toThrow(/fakeMetrics.kvUsage/);
    expect(() => parseFakeMetrics({ waiting: -1 })).toThrow(/fakeMetrics.waiting/);
    expect(() => parseFakeMetrics({ queue: 1 })).toThrow(/fakeMetrics.queue/);
    expect(() => parseFakeMetrics({ loraRunning: [1] })).toThrow(/fakeMetrics.loraRunning/);
  });
});
