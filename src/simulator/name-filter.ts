// The `name[]` filter of a simulated /metrics page, as Python's prometheus_client applies it (which vLLM's and
// SGLang's /metrics are): only samples whose sample name is asked for (a histogram's `x_bucket`, a counter's
// `x_total`, not the family name), each kept family with its HELP/TYPE lines, a family with none kept left out.

/**
 * The `name[]` values of a request target; undefined when there are none, which means the whole page
 * (prometheus_client's query parsing drops blank values, so `name[]=` alone asks for everything too).
 */
export function requestedNames(url: string): ReadonlySet<string> | undefined {
  const q = url.indexOf('?');
  if (q === -1) return undefined;
  const names = new URLSearchParams(url.slice(q + 1)).getAll('name[]').filter((n) => n !== '');
  return names.length === 0 ? undefined : new Set(names);
}

/** The page restricted to the samples named in `names`. O(page lines). */
export function restrictExposition(text: string, names: ReadonlySet<string>): string {
  const out: string[] = [];
  let header: string[] = [];
  let headerWritten = false;
  let afterSample = false;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      // Comment lines after samples start the next family's header.
      if (afterSample) header = [];
      header.push(line);
      headerWritten = false;
      afterSample = false;
      continue;
    }
    afterSample = true;
    if (!names.has(sampleName(line))) continue;
    if (!headerWritten) {
      out.push(...header);
      headerWritten = true;
    }
    out.push(line);
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

function sampleName(line: string): string {
  let end = 0;
  while (end < line.length && line[end] !== '{' && line[end] !== ' ' && line[end] !== '\t') end++;
  return line.slice(0, end);
}
