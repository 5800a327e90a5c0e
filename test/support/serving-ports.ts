// The ports a child `fairway serve` bound, read from its "fairway serving" log line (pino JSON on stderr): the
// process tests start it with port 0 everywhere.

export interface ServingPorts {
  readonly grpc: number;
  readonly health: number;
  readonly metrics: number;
  readonly proxy?: number;
}

/** undefined until the line has arrived. */
export function servingPorts(stderr: string): ServingPorts | undefined {
  for (const line of stderr.split('\n')) {
    if (!line.includes('fairway serving')) continue;
    const parsed = JSON.parse(line) as { ports?: ServingPorts };
    if (parsed.ports !== undefined) return parsed.ports;
  }
  return undefined;
}
