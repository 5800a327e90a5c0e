// A realistic vLLM /metrics page (v0.8-style names, histograms with their real bucket layouts, process and
// Python collector metrics), for parse and scrape benchmarks.

const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';

const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560];
const ITL_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
const TOKEN_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];

/** `extra` observations (each 1.9) are added to the buckets from le=2.5 up, as requests finishing would add them. */
function histogram(lines: string[], name: string, help: string, buckets: readonly number[], scale: number, extra = 0): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
  let cumulative = 0;
  for (const le of buckets) {
    cumulative += Math.round(scale * Math.exp(-Math.abs(Math.log(le + 1e-3))));
    const count = le >= 2.5 ? cumulative + extra : cumulative;
    lines.push(`${name}_bucket{engine="0",le="${le.toFixed(le < 1 ? 3 : 1)}",model_name="${MODEL}"} ${count}.0`);
  }
  lines.push(`${name}_bucket{engine="0",le="+Inf",model_name="${MODEL}"} ${cumulative + extra}.0`);
  lines.push(`${name}_count{engine="0",model_name="${MODEL}"} ${cumulative + extra}.0`);
  lines.push(`${name}_sum{engine="0",model_name="${MODEL}"} ${(cumulative * 0.137 + extra * 1.9).toFixed(6)}`);
}

function gauge(lines: string[], name: string, help: string, value: number, type = 'gauge'): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}{engine="0",model_name="${MODEL}"} ${value}`);
}

export interface PageOptions {
  readonly waiting?: number;
  readonly running?: number;
  readonly kv?: number;
  /** Requests finished beyond the page's own: added to the e2e latency histogram. @default 0 */
  readonly finished?: number;
  /**
   * Where `lora_requests_info` and `cache_config_info` sit. vLLM v1 registers them after its histograms (LoRA
   * info at the end of the logger's set-up, cache config when the engine reports itself initialised), so a
   * reader needing them reads nearly the whole page; `gauges-first` puts them right after the core gauges.
   * @default 'vllm-v1'
   */
  readonly layout?: 'vllm-v1' | 'gauges-first';
  /** Whether the server has LoRA enabled (only then is `lora_requests_info` exported). @default true */
  readonly lora?: boolean;
}

/** The page text; `waiting`, `running` and `kv` vary the gauges the data layer reads, `finished` one histogram. */
export function vllmMetricsPage(options: PageOptions = {}): string {
  const { waiting = 3, running = 24, kv = 0.42, finished = 0, layout = 'vllm-v1', lora = true } = options;
  const lines: string[] = [];
  for (const gen of [0, 1, 2]) {
    lines.push(`python_gc_objects_collected_total{generation="${gen}"} ${12_345 * (gen + 1)}.0`);
    lines.push(`python_gc_collections_total{generation="${gen}"} ${321 * (gen + 1)}.0`);
  }
  lines.push('python_info{implementation="CPython",major="3",minor="12",patchlevel="9",version="3.12.9"} 1.0');
  for (const [n, v] of [['process_virtual_memory_bytes', 8.1e10], ['process_resident_memory_bytes', 3.2e9], ['process_cpu_seconds_total', 1234.5], ['process_open_fds', 87]] as const) {
    lines.push(`# TYPE ${n} gauge`, `${n} ${v}`);
  }
  gauge(lines, 'vllm:num_requests_running', 'Number of requests in model execution batches.', running);
  gauge(lines, 'vllm:num_requests_waiting', 'Number of requests waiting to be processed.', waiting);
  gauge(lines, 'vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', kv);
  const info: string[] = [];
  if (lora) {
    info.push(
      '# HELP vllm:lora_requests_info Running stats on lora requests.',
      '# TYPE vllm:lora_requests_info gauge',
      'vllm:lora_requests_info{max_lora="4",running_lora_adapters="sql-lora",waiting_lora_adapters=""} 1.7250001e+09',
      'vllm:lora_requests_info{max_lora="4",running_lora_adapters="sql-lora,chat-lora",waiting_lora_adapters="math-lora"} 1.7250002e+09',
    );
  }
  info.push(
    '# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig',
    '# TYPE vllm:cache_config_info gauge',
    'vllm:cache_config_info{block_size="16",cache_dtype="auto",calculate_kv_scales="False",cpu_offload_gb="0",enable_prefix_caching="True",gpu_memory_utilization="0.9",is_attention_free="False",num_cpu_blocks="None",num_gpu_blocks="27137",num_gpu_blocks_override="None",prefix_caching_hash_algo="builtin",sliding_window="None",swap_space="4",swap_space_bytes="4294967296"} 1.0',
  );
  if (layout === 'gauges-first') lines.push(...info);
  for (const [n, v] of [
    ['vllm:num_preemptions_total', 17],
    ['vllm:prompt_tokens_total', 98_765_432],
    ['vllm:generation_tokens_total', 12_345_678],
    ['vllm:prefix_cache_queries_total', 98_000_000],
    ['vllm:prefix_cache_hits_total', 41_000_000],
  ] as const) {
    gauge(lines, n, 'Counter.', v, 'counter');
  }
  for (const reason of ['stop', 'length', 'abort']) {
    lines.push(`vllm:request_success_total{engine="0",finished_reason="${reason}",model_name="${MODEL}"} 4242.0`);
  }
  histogram(lines, 'vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', LATENCY_BUCKETS, 900);
  histogram(lines, 'vllm:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', ITL_BUCKETS, 90_000);
  histogram(lines, 'vllm:time_per_output_token_seconds', 'Histogram of time per output token in seconds.', ITL_BUCKETS, 90_000);
  histogram(lines, 'vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', LATENCY_BUCKETS, 900, finished);
  histogram(lines, 'vllm:request_queue_time_seconds', 'Histogram of time spent in WAITING phase for request.', LATENCY_BUCKETS, 900);
  histogram(lines, 'vllm:request_inference_time_seconds', 'Histogram of time spent in RUNNING phase for request.', LATENCY_BUCKETS, 900);
  histogram(lines, 'vllm:request_prefill_time_seconds', 'Histogram of time spent in PREFILL phase for request.', LATENCY_BUCKETS, 900);
  histogram(lines, 'vllm:request_decode_time_seconds', 'Histogram of time spent in DECODE phase for request.', LATENCY_BUCKETS, 900);
  histogram(lines, 'vllm:request_prompt_tokens', 'Number of prefill tokens processed.', TOKEN_BUCKETS, 800);
  histogram(lines, 'vllm:request_generation_tokens', 'Number of generation tokens processed.', TOKEN_BUCKETS, 800);
  histogram(lines, 'vllm:request_max_num_generation_tokens', 'Histogram of maximum number of requested generation tokens.', TOKEN_BUCKETS, 800);
  histogram(lines, 'vllm:request_params_n', 'Histogram of the n request parameter.', [1, 2, 5, 10, 20], 900);
  histogram(lines, 'vllm:request_params_max_tokens', 'Histogram of the max_tokens request parameter.', TOKEN_BUCKETS, 800);
  histogram(lines, 'vllm:iteration_tokens_total', 'Histogram of number of tokens per engine_step.', [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384], 50_000);
  if (layout === 'vllm-v1') lines.push(...info);
  lines.push('');
  return lines.join('\n');
}
