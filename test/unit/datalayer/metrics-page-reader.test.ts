import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MetricsPageReader,
  VLLM_METRICS,
  familiesOf,
  parsePrometheusText,
} from '../../../src/datalayer/index.js';
import { SGLANG_PAGE, VLLM_PAGE } from './fixtures.js';

const WANTED = familiesOf(VLLM_METRICS);

/** Feeds `text` to the reader cut at the given byte offsets. */
function read(reader: MetricsPageReader, text: string, cuts: readonly number[], stopAfter?: ReadonlySet<string>) {
  const bytes = Buffer.from(text);
  reader.begin(stopAfter);
  let from = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length)].sort((a, b) => a - b).concat(bytes.length)) {
    if (cut <= from) continue;
    if (!reader.push(bytes.subarray(from, cut))) break;
    from = cut;
  }
  return reader.finish();
}

function onlyWanted(text: string) {
  return parsePrometheusText(text, { only: WANTED }).samples;
}

describe('MetricsPageReader', () => {
  it('keeps exactly the wanted samples the whole-text parser keeps, whatever the chunk boundaries (property)', () => {
    const reader = new MetricsPageReader({ wanted: WANTED });
    const page = `${VLLM_PAGE}\r\nvllm:num_requests_waiting{rank="1"} 4\nnot valid {{\n${SGLANG_PAGE}`;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: Buffer.byteLength(page) }), { maxLength: 40 }), (cuts) => {
        const result = read(reader, page, cuts);
        expect(new Map(result.samples)).toEqual(new Map(onlyWanted(page)));
        expect(result.stoppedEarly).toBe(false);
      }),
    );
  });

  it('stopping early (seeking between families) keeps exactly the expected families\' samples, whatever the chunk boundaries (property)', () => {
    const reader = new MetricsPageReader({ wanted: WANTED });
    // LoRA info after a histogram and a counter, as vLLM v1 orders it; one family name a prefix of another.
    const lines = VLLM_PAGE.split('\n');
    const lora = lines.filter((l) => l.includes('lora_requests_info'));
    const vllmV1 = `${lines.filter((l) => !l.includes('lora_requests_info')).join('\n')}vllm:lora_requests_info_total 3\n${lora.join('\n')}\nvllm:after_lora 1\n`;
    const dynamic = ['vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc', 'vllm:lora_requests_info'];
    for (const page of [VLLM_PAGE, vllmV1]) {
      const whole = onlyWanted(page);
      fc.assert(
        fc.property(
          fc.subarray(dynamic, { minLength: 1 }),
          fc.array(fc.integer({ min: 0, max: Buffer.byteLength(page) }), { maxLength: 40 }),
          (expected, cuts) => {
            const result = read(reader, page, cuts, new Set(expected));
            expect(result.stoppedEarly).toBe(true);
            for (const name of expected) expect(result.samples.get(name)).toEqual(whole.get(name));
          },
        ),
      );
    }
  });

  it('property: a reader reused from page to page (seek hints, unchanged lines not parsed again, moved values parsed alone, lines gaining labels) keeps exactly the expected families\' samples as the layout shifts', () => {
    const reader = new MetricsPageReader({ wanted: WANTED });
    const dynamic = new Set(['vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc', 'vllm:lora_requests_info']);
    const pageArb = fc.record({
      before: fc.integer({ min: 0, max: 60 }),
      // Up to ~6 KB between the gauges and LoRA info: pages shift by more than the hint's slack both ways.
      middle: fc.integer({ min: 0, max: 150 }),
      digits: fc.integer({ min: 1, max: 12 }),
      waiting: fc.nat(50),
      // Valid and invalid values, with and without a timestamp: a line whose labels stayed takes the value path.
      kv: fc.constantFrom('0.5', '0.25', '1e-3', 'NaN', '+Inf', '-1', 'x', '0.5 1700000000', '0.5 12x', '0.5  ', '', '}', '0.5}', '} 0.5'),
      // A label-less line that gains labels, with or without a blank before them, takes the whole-line path.
      running: fc.constantFrom('vllm:num_requests_running 3', 'vllm:num_requests_running{engine="0"} 3', 'vllm:num_requests_running {engine="0"} 4'),
      kvLabel: fc.constantFrom('0', '1'),
      loraLines: fc.integer({ min: 1, max: 3 }),
      adapters: fc.subarray(['a', 'sql-lora', 'chat-lora']),
      loraFirst: fc.boolean(),
    });
    type Page = typeof pageArb extends fc.Arbitrary<infer T> ? T : never;
    const build = (p: Page): string => {
      const filler = (prefix: string, n: number) =>
        Array.from({ length: n }, (_, i) => `vllm:${prefix}_seconds_bucket{le="${i}"} ${'7'.repeat(p.digits)}\n`).join('');
      const gauges =
        `# TYPE vllm:num_requests_running gauge\n${p.running}\n# TYPE vllm:num_requests_waiting gauge\n` +
        `vllm:num_requests_waiting ${p.waiting}\nvllm:kv_cache_usage_perc{engine="${p.kvLabel}"} ${p.kv}\n`;
      const lora =
        '# TYPE vllm:lora_requests_info gauge\n' +
        Array.from({ length: p.loraLines }, (_, i) => `vllm:lora_requests_info{max_lora="4",running_lora_adapters="${p.adapters.join(',')}",waiting_lora_adapters=""} ${i + 1}\n`).join('');
      const [first, second] = p.loraFirst ? [lora, gauges] : [gauges, lora];
      return `${filler('early', p.before)}${first}${filler('middle', p.middle)}${second}vllm:cache_config_info{block_size="16",num_gpu_blocks="9"} 1\n`;
    };
    fc.assert(
      fc.property(fc.array(fc.tuple(pageArb, fc.array(fc.nat(), { maxLength: 6 })), { minLength: 1, maxLength: 8 }), (pages) => {
        for (const [p, cuts] of pages) {
          const text = build(p);
          const length = Buffer.byteLength(text);
          const result = read(reader, text, cuts.map((c) => c % (length + 1)), dynamic);
          const whole = onlyWanted(text);
          for (const name of dynamic) expect(result.samples.get(name)).toEqual(whole.get(name));
        }
      }),
      { seed: 14, numRuns: 200 },
    );
  });

  it('hands back the last page\'s sample for a line that did not change, and a new one for a line that did', () => {
    const reader = new MetricsPageReader({ wanted: WANTED });
    const page = (waiting: number) => `vllm:num_requests_waiting ${waiting}\nvllm:lora_requests_info{max_lora="2",running_lora_adapters="a"} 1\n`;
    // A result is valid until the next page begins: what is compared across pages is taken at once.
    const samplesOf = (r: ReturnType<typeof read>) => ({ lora: r.samples.get('vllm:lora_requests_info')?.[0], waiting: r.samples.get('vllm:num_requests_waiting')?.[0] });
    const first = samplesOf(read(reader, page(1), []));
    const second = samplesOf(read(reader, page(2), []));
    expect(second.lora).toBe(first.lora);
    expect(second.waiting).not.toBe(first.waiting);
    expect(first.waiting?.value).toBe(1);
    expect(second.waiting?.value).toBe(2);
  });

  it('a line whose value alone moved keeps the last sample\'s labels and takes the new value; other changes parse whole', () => {
    const reader = new MetricsPageReader({ wanted: WANTED });
    const page = (value: string, rank = '0') => `vllm:kv_cache_usage_perc{engine="${rank}",model_name="m"} ${value}\nvllm:num_requests_waiting ${value}\n`;
    const kv = (r: ReturnType<typeof read>) => r.samples.get('vllm:kv_cache_usage_perc')?.[0];
    const waiting = (r: ReturnType<typeof read>) => r.samples.get('vllm:num_requests_waiting')?.[0];
    const firstKv = kv(read(reader, page('0.5'), []));
    const second = read(reader, page('0.75'), []);
    expect(kv(second)).toEqual({ labels: { engine: '0', model_name: 'm' }, value: 0.75 });
    expect(kv(second)?.labels).toBe(firstKv?.labels);
    expect(firstKv?.value).toBe(0.5);
    expect(waiting(second)?.value).toBe(0.75);
    const third = read(reader, page('0.75 1700000000', '1'), []);
    expect(kv(third)).toEqual({ labels: { engine: '1', model_name: 'm' }, value: 0.75 });
    const fourth = read(reader, page('oops', '1'), []);
    expect(kv(fourth)).toBeUndefined();
    expect(fourth.badWantedLines).toBe(2);
  });

  it('hands back the same result, maps and lists for every page (valid until the next begin), holding only this page\'s families', () => {
    const reader = new MetricsPageReader({ wanted: WANTED });
    const both = 'vllm:num_requests_waiting 1\nvllm:num_requests_running{engine="0"} 2\nvllm:num_requests_running{engine="1"} 3\n';
    const first = read(reader, both, []);
    const firstSamples = first.samples;
    const runningList = first.samples.get('vllm:num_requests_running');
    expect(runningList?.map((x) => x.value)).toEqual([2, 3]);
    const second = read(reader, 'vllm:num_requests_running{engine="0"} 5\n', []);
    expect(second).toBe(first);
    expect(second.samples).toBe(firstSamples);
    expect(second.samples.get('vllm:num_requests_running')).toBe(runningList);
    expect(second.samples.get('vllm:num_requests_running')?.map((x) => x.value)).toEqual([5]);
    expect(second.samples.get('vllm:num_requests_waiting')).toBeUndefined();
    expect([...second.found]).toEqual(['vllm:num_requests_running']);
    const third = read(reader, both, []);
    expect([...third.samples.keys()].sort()).toEqual(['vllm:num_requests_running', 'vllm:num_requests_waiting']);
    expect([...third.found].sort()).toEqual(['vllm:num_requests_running', 'vllm:num_requests_waiting']);
    expect(third.samples.get('vllm:num_requests_running')?.map((x) => x.value)).toEqual([2, 3]);
  });

  it('property: pages abandoned part-way (a failed fetch: begin again without finish) leave nothing in the next page\'s result', () => {
    const reader = new MetricsPageReader({ wanted: WANTED });
    const pageArb = fc.record({
      waiting: fc.option(fc.nat(99), { nil: undefined }),
      running: fc.array(fc.nat(99), { maxLength: 3 }),
      kv: fc.constantFrom('0.5', '0.125', 'x', '1e-3'),
      lora: fc.boolean(),
    });
    type Page = typeof pageArb extends fc.Arbitrary<infer T> ? T : never;
    const build = (p: Page): string =>
      (p.waiting === undefined ? '' : `vllm:num_requests_waiting ${p.waiting}\n`) +
      p.running.map((v, i) => `vllm:num_requests_running{engine="${i}"} ${v}\n`).join('') +
      `vllm:kv_cache_usage_perc ${p.kv}\n` +
      (p.lora ? 'vllm:lora_requests_info{max_lora="2",running_lora_adapters="a"} 1\n' : '');
    fc.assert(
      fc.property(fc.array(fc.tuple(pageArb, fc.option(fc.nat(), { nil: undefined })), { minLength: 1, maxLength: 8 }), (pages) => {
        for (const [p, abandonAt] of pages) {
          const text = build(p);
          if (abandonAt !== undefined) {
            // Part of the page, then the fetch fails: the scraper begins the next page without finishing this one.
            reader.begin();
            reader.push(Buffer.from(text).subarray(0, abandonAt % (Buffer.byteLength(text) + 1)));
            continue;
          }
          const result = read(reader, text, []);
          const whole = onlyWanted(text);
          expect(new Map(result.samples)).toEqual(whole);
          expect([...result.found].sort()).toEqual([...whole.keys()].sort());
        }
      }),
      { seed: 14, numRuns: 200 },
    );
  });

  it('keeps UTF-8 label values split across chunks intact', () => {
    const reader = new MetricsPageReader({ wanted: WANTED });
    const page = 'vllm:lora_requests_info{max_lora="2",running_lora_adapters="日本語-lora",waiting_lora_adapters=""} 1\n';
    const bytes = Buffer.from(page);
    for (let cut = 1; cut < bytes.length; cut++) {
      const result = read(reader, page, [cut]);
      expect(result.samples.get('vllm:lora_requests_info')?.[0]?.labels['running_lora_adapters']).toBe('日本語-lora');
    }
  });

  it('stops once the expected families are complete and another family starts', () => {
    const reader = new MetricsPageReader({ wanted: WANTED });
    const expected = new Set(['vllm:num_requests_running', 'vllm:num_requests_waiting']);
    const result = read(reader, VLLM_PAGE, [], expected);
    expect(result.stoppedEarly).toBe(true);
    expect([...result.samples.keys()].sort()).toEqual(['vllm:num_requests_running', 'vllm:num_requests_waiting']);
  });

  it('reads to the end when an expected family is absent', () => {
    const reader = new MetricsPageReader({ wanted: WANTED });
    const result = read(reader, VLLM_PAGE, [], new Set(['vllm:num_requests_running', 'vllm:gpu_cache_usage_perc']));
    expect(result.stoppedEarly).toBe(false); // the scraper then reads the next page whole, to learn it again
    expect(result.samples.get('vllm:num_requests_running')).toHaveLength(1);
  });

  it('reports a wanted family declared with an unreadable type, and lines that are not metrics', () => {
    const reader = new MetricsPageReader({ wanted: WANTED });
    const page = '# TYPE vllm:num_requests_waiting histogram\nvllm:num_requests_waiting_bucket{le="1"} 3\n\u0000\u0001 binary\n<html>\nvllm:kv_cache_usage_perc{a="b"} abc\n';
    const result = read(reader, page, [7, 50]);
    expect(result.wrongTypes).toEqual(['vllm:num_requests_waiting: histogram']);
    expect(result.invalidLines).toBe(3);
    expect(result.badWantedLines).toBe(1);
  });

  it('skips a line longer than the limit without buffering it, and reads on after it', () => {
    const reader = new MetricsPageReader({ wanted: WANTED, maxLineBytes: 1024 });
    const page = `vllm:num_requests_waiting{x="${'a'.repeat(5000)}"} 1\nvllm:num_requests_running 2\n`;
    const cuts = Array.from({ length: 10 }, (_, i) => i * 600);
    const result = read(reader, page, cuts);
    expect(result.samples.get('vllm:num_requests_waiting')).toBeUndefined();
    expect(result.samples.get('vllm:num_requests_running')?.[0]?.value).toBe(2);
    expect(result.invalidLines).toBe(1);
  });
});
