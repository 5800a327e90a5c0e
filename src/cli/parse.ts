// Argument parsers shared by the commands; each error names the flag's expectation.
import { InvalidArgumentError } from 'commander';

export function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError('must be a port number 0-65535');
  return n;
}

export function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number > 0');
  return n;
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a whole number > 0');
  return n;
}

/** `host:port,host:port,...` (IPv6 as `[addr]:port`): a static pool. */
export function parseEndpointList(value: string): { host: string; port: number }[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (list.length === 0) throw new InvalidArgumentError('must list at least one host:port');
  return list.map((entry) => {
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(entry);
    const port = Number(m?.[3]);
    const host = m?.[1] ?? m?.[2];
    if (m === null || host === undefined || !Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new InvalidArgumentError(`"${entry}" is not host:port (IPv6: [addr]:port, port 1-65535)`);
    }
    return { host, port };
  });
}
