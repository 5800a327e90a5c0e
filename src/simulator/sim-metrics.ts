// A simulated server's /metrics: vLLM's metric names and labels, fed by the engine's event log.
import { type SimEngine } from './engine.js';
import { type EngineEvent } from './engine-types.js';
import { type FakeMetrics } from './fake-metrics.js';
import { Histogram, formatValue } from './histogram.js';

// Bucket bounds of vLLM v1's exporter (vllm/v1/metrics/loggers.py), in seconds.
const TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
  160.0, 640.0, 2560.0,
];
const ITL_BUCKETS = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
];
const REQUEST_LATENCY_BUCKETS = [
  0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0,
  1920.0, 7680.0,
];
const FINISH_REASONS = ['stop', 'length', 'abort'] as const;

export interface SimMetricsOptions {
  readonly engine: SimEngine;
  readonly model: string;
  /** LoRA slots when LoRA is enabled; `vllm:lora_requests_info` is written only then. */
  readonly maxLoras?: number;
  /** Wall-clock milliseconds since the epoch, for the LoRA info timestamp. @default Date.now */
  readonly wallClock?: () => number;
}

/**
 * Counters and histograms are updated from engine events as they happen (every step); gauges are read from
 * the engine at scrape time. The text is written by hand rather than through prom-client: one server per
 * registry would be needed anyway, and the format is small. O(1) per event except histograms (O(buckets)).
 */
export class SimMetrics {
  private readonly engine: SimEngine;
  private readonly labels: string;
  private readonly maxLoras: number | undefined;
  private readonly wallClock: () => number;
  private readonly unsubscribe: () => void;
  private fake: FakeMetrics | undefined;
  private promptTokens = 0;
  private generationTokens = 0;
  private prefixQueries = 0;
  private prefixHits = 0;
  private readonly success = new Map<string, number>(FINISH_REASONS.map((r) => [r, 0]));
  private readonly ttft = new Histogram(TTFT_BUCKETS);
  private readonly itl = new Histogram(ITL_BUCKETS);
  private readonly e2e = new Histogram(REQUEST_LATENCY_BUCKETS);
  private readonly queue = new Histogram(REQUEST_LATENCY_BUCKETS);

  constructor(options: SimMetricsOptions) {
    this.engine = options.engine;
    this.labels = `engine="0",model_name="${escapeLabel(options.model)}"`;
    this.maxLoras = options.maxLoras;
    this.wallClock = options.wallClock ?? Date.now;
    this.unsubscribe = this.engine.observe((e) => this.onEvent(e));
  }

  /** Replaces (or with undefined, clears) the fixed values reported instead of the engine's state. */
  setFake(fake: FakeMetrics | undefined): void {
    this.fake = fake;
  }

  dispose(): void {
    this.unsubscribe();
  }

  render(): string {
    const s = this.engine.stats();
    const f = this.fake;
    const p = this.engine.profile;
    const out: string[] = [];
    const l = this.labels;
    gauge(out, 'vllm:num_requests_running', 'Number of requests in model execution batches.', l, f?.running ?? s.running);
    gauge(out, 'vllm:num_requests_waiting', 'Number of requests waiting to be processed.', l, f?.waiting ?? s.waiting);
    gauge(out, 'vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', l, f?.kvUsage ?? s.kvUsage);
    if (this.maxLoras !== undefined) {
      const running = (f?.loraRunning ?? s.runningLoras).map(escapeLabel).join(',');
      const waiting = (f?.loraWaiting ?? s.waitingLoras).map(escapeLabel).join(',');
      header(out, 'vllm:lora_requests_info', 'Running stats on lora requests.', 'gauge');
      // The value is a timestamp: scrapers take the series with the largest value as the current one.
      out.push(
        `vllm:lora_requests_info{max_lora="${this.maxLoras}",running_lora_adapters="${running}",` +
          `waiting_lora_adapters="${waiting}"} ${formatValue(this.wallClock() / 1000)}`,
      );
    }
    header(out, 'vllm:cache_config_info', 'Information of the LLMEngine CacheConfig', 'gauge');
    out.push(
      `vllm:cache_config_info{block_size="${p.blockSize}",cache_dtype="auto",enable_prefix_caching="True",` +
        `engine="0",num_gpu_blocks="${p.numBlocks}"} 1.0`,
    );
    counter(out, 'vllm:num_preemptions', 'Cumulative number of preemption from the engine.', l, s.preemptions);
    counter(out, 'vllm:prompt_tokens', 'Number of prefill tokens processed.', l, this.promptTokens);
    counter(out, 'vllm:generation_tokens', 'Number of generation tokens processed.', l, this.generationTokens);
    counter(out, 'vllm:prefix_cache_queries', 'Prefix cache queries, in terms of number of queried tokens.', l, this.prefixQueries);
    counter(out, 'vllm:prefix_cache_hits', 'Prefix cache hits, in terms of number of cached tokens.', l, this.prefixHits);
    header(out, 'vllm:request_success_total', 'Count of successfully processed requests.', 'counter');
    for (const [reason, n] of this.success) {
      out.push(`vllm:request_success_total{${l},finished_reason="${reason}"} ${formatValue(n)}`);
    }
    histogram(out, 'vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', l, this.ttft);
    histogram(out, 'vllm:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', l, this.itl);
    histogram(out, 'vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', l, this.e2e);
    histogram(
      out,
      'vllm:request_queue_time_seconds',
      'Histogram of time spent in WAITING phase for request.',
      l,
      this.queue,
    );
    out.push('');
    return out.join('\n');
  }

  private onEvent(e: EngineEvent): void {
    switch (e.kind) {
      case 'admit':
        this.prefixQueries += e.queriedTokens;
        this.prefixHits += e.cachedTokens;
        if (!e.resumed) this.queue.observe(e.queueMs / 1000);
        break;
      case 'token':
        this.generationTokens++;
        if (e.index === 0) {
          this.promptTokens += e.promptTokens;
          this.ttft.observe(e.latencyMs / 1000);
        } else {
          this.itl.observe(e.latencyMs / 1000);
        }
        break;
      case 'finish':
        this.success.set(e.reason, (this.success.get(e.reason) ?? 0) + 1);
        this.e2e.observe(e.e2eMs / 1000);
        break;
      default:
        break;
    }
  }
}

function header(out: string[], name: string, help: string, type: string): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
}

function gauge(out: string[], name: string, help: string, labels: string, value: number): void {
  header(out, name, help, 'gauge');
  out.push(`${name}{${labels}} ${formatValue(value)}`);
}

/** Counters carry the `_total` suffix on the sample, as Python's prometheus_client writes them. */
function counter(out: string[], name: string, help: string, labels: string, value: number): void {
  header(out, `${name}_total`, help, 'counter');
  out.push(`${name}_total{${labels}} ${formatValue(value)}`);
}

function histogram(out: string[], name: string, help: string, labels: string, h: Histogram): void {
  header(out, name, help, 'histogram');
  h.render(name, labels, out);
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
