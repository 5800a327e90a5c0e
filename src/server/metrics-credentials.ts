// What the scraper needs to reach secured model servers, read from the files the configuration names: the CA
// bundle once at start (a bad path fails start-up), the bearer token at start and again each minute, so a
// rotated (projected service-account) token is picked up without a restart.
import { readFileSync } from 'node:fs';
import { type Clock, ConfigError, type Logger } from '../core/index.js';
import { type HttpMetricsFetcherOptions } from '../datalayer/index.js';

export interface MetricsAccessConfig {
  readonly scheme: 'http' | 'https';
  readonly tls: { readonly caFile?: string | undefined; readonly insecureSkipVerify: boolean; readonly serverName?: string | undefined };
  readonly bearerTokenFile?: string | undefined;
  readonly maxBodyBytes: number;
}

/** @default 60 s */
export const TOKEN_REFRESH_MS = 60_000;

function readRequired(path: string, field: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err: unknown) {
    throw new ConfigError(field, `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function metricsFetchOptions(config: MetricsAccessConfig, clock: Clock, logger: Logger): HttpMetricsFetcherOptions {
  const ca = config.tls.caFile === undefined ? undefined : readRequired(config.tls.caFile, 'pool.metrics.tls.caFile');
  let bearerToken: (() => string | undefined) | undefined;
  const tokenFile = config.bearerTokenFile;
  if (tokenFile !== undefined) {
    let token = readRequired(tokenFile, 'pool.metrics.bearerTokenFile').trim();
    let readAt = clock.now();
    bearerToken = () => {
      if (clock.now() - readAt >= TOKEN_REFRESH_MS) {
        readAt = clock.now();
        try {
          token = readFileSync(tokenFile, 'utf8').trim();
        } catch (err: unknown) {
          // Keep the last token: a file briefly missing during rotation must not fail every scrape.
          logger.warn({ err, file: tokenFile }, 'metrics bearer token file unreadable; keeping the previous token');
        }
      }
      return token;
    };
  }
  return {
    scheme: config.scheme,
    maxBodyBytes: config.maxBodyBytes,
    tls: {
      insecureSkipVerify: config.tls.insecureSkipVerify,
      ...(ca !== undefined ? { ca } : {}),
      ...(config.tls.serverName !== undefined ? { serverName: config.tls.serverName } : {}),
    },
    ...(bearerToken !== undefined ? { bearerToken } : {}),
  };
}
