import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ENGINE_METRICS,
  type EngineMetricNames,
  extractEndpointMetrics,
  familiesOf,
  parsePrometheusText,
} from '../../../src/datalayer/index.js';
import { SGLANG_PAGE, TRTLLM_PAGE, VLLM_PAGE, vllmPage } from './fixtures.js';

function extract(text: string, names: EngineMetricNames = DEFAULT_ENGINE_METRICS.vllm) {
  return extractEndpointMetrics(parsePrometheusText(text, { only: familiesOf(names) }), names);
}

describe('extractEndpointMetrics', () => {
  it('maps a vLLM page, taking LoRA state from the series with the largest value', () => {
    const result = extract(VLLM_PAGE);
    expect(result).toEqual({
      ok: true,
      metrics: {
        waitingQueue: 3,
        runningRequests: 7,
        kvCacheUsage: 0.42,
        loraRunning: ['sql-lora', 'chat-lora'],
        loraWaiting: ['math-lora'],
        maxLora: 4,
        kvBlockSize: 16,
        kvNumBlocks: 27000,
      },
    });
  });

  it('maps SGLang names and its page_size/num_pages cache geometry', () => {
    const result = extract(SGLANG_PAGE, DEFAULT_ENGINE_METRICS.sglang);
    expect(result.ok && result.metrics).toMatchObject({
      waitingQueue: 4,
      runningRequests: 12,
      kvCacheUsage: 0.61,
      kvBlockSize: 1,
      kvNumBlocks: 500000,
      loraRunning: [],
      maxLora: 0,
    });
  });

  it('maps TensorRT-LLM names; no LoRA or geometry means empty lists and no block fields', () => {
    const result = extract(TRTLLM_PAGE, DEFAULT_ENGINE_METRICS.trtllm);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.metrics).toMatchObject({ waitingQueue: 2, runningRequests: 9, kvCacheUsage: 0.3 });
    expect(result.metrics.kvBlockSize).toBeUndefined();
  });

  it('falls back to the older vLLM KV family name', () => {
    const page = vllmPage(1, 2, 0.5).replace('vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc');
    const result = extract(page);
    expect(result.ok && result.metrics.kvCacheUsage).toBe(0.5);
  });

  it('honours configured names', () => {
    const names: EngineMetricNames = { waitingQueue: ['q'], runningRequests: ['r'], kvCacheUsage: ['kv'] };
    const result = extract('q 1\nr 2\nkv 0.25\n', names);
    expect(result.ok && result.metrics).toMatchObject({ waitingQueue: 1, runningRequests: 2, kvCacheUsage: 0.25 });
  });

  it('sums counts over data-parallel ranks and takes the fullest rank for KV usage', () => {
    const page = [
      'vllm:num_requests_waiting{engine="0"} 2',
      'vllm:num_requests_waiting{engine="1"} 3',
      'vllm:num_requests_running{engine="0"} 1',
      'vllm:num_requests_running{engine="1"} 1',
      'vllm:kv_cache_usage_perc{engine="0"} 0.2',
      'vllm:kv_cache_usage_perc{engine="1"} 0.7',
    ].join('\n');
    expect(extract(page)).toMatchObject({ ok: true, metrics: { waitingQueue: 5, runningRequests: 2, kvCacheUsage: 0.7 } });
  });

  it('fails on a missing required family, naming it', () => {
    const result = extract('vllm:num_requests_running 1\nvllm:kv_cache_usage_perc 0.1\n');
    expect(result).toEqual({ ok: false, reason: 'missing-metric', detail: 'missing metric family vllm:num_requests_waiting' });
  });

  it.each([['NaN'], ['+Inf'], ['-1']])('fails on a required value of %s rather than reading it as idle', (bad) => {
    const result = extract(vllmPage(bad, 1, 0.1));
    expect(result.ok).toBe(false);
  });

  it('fails on garbage text', () => {
    expect(extract('<html><body>502 Bad Gateway</body></html>').ok).toBe(false);
  });

  it('ignores malformed optional families instead of failing the scrape', () => {
    const page = `${vllmPage(0, 0, 0)}vllm:cache_config_info{block_size="None",num_gpu_blocks="x"} 1\nvllm:lora_requests_info{max_lora="4"} NaN\n`;
    const result = extract(page);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.metrics.kvBlockSize).toBeUndefined();
    expect(result.metrics.loraRunning).toEqual([]);
  });

  it('hands back the previous metrics object itself when nothing in it changed, and a new one when a figure did', () => {
    const names = DEFAULT_ENGINE_METRICS.vllm;
    const parsed = parsePrometheusText(VLLM_PAGE, { only: familiesOf(names) });
    const first = extractEndpointMetrics(parsed, names);
    if (!first.ok) throw new Error('the fixture page extracts');
    const again = extractEndpointMetrics(parsePrometheusText(VLLM_PAGE, { only: familiesOf(names) }), names, first.metrics);
    expect(again.ok && again.metrics).toBe(first.metrics);
    const moved = extractEndpointMetrics(parsePrometheusText(VLLM_PAGE.replace('} 0.42', '} 0.43'), { only: familiesOf(names) }), names, first.metrics);
    expect(moved.ok && moved.metrics).not.toBe(first.metrics);
    expect(moved).toMatchObject({ ok: true, metrics: { kvCacheUsage: 0.43, waitingQueue: 3 } });
    expect(Object.isFrozen(moved.ok && moved.metrics)).toBe(true);
  });
});
