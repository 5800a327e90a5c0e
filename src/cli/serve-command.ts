// `fairway serve --config FILE`: the endpoint picker itself, with graceful shutdown on SIGTERM/SIGINT.
import { readFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { parseConfig } from '../config/index.js';
import { FairwayServer } from '../server/index.js';
import { startTracing } from '../observability/index.js';
import { cliLogger } from './logger.js';
import { installShutdown } from './shutdown.js';
import { parsePort } from './parse.js';

interface ServeOptions {
  config?: string;
  grpcPort?: number;
  healthPort?: number;
  metricsPort?: number;
  proxyPort?: number;
  logLevel?: string;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the endpoint picker: ext_proc for Envoy, optional standalone proxy, metrics and health')
    .option('-c, --config <file>', 'YAML configuration file (every field has a default)')
    .addOption(new Option('--grpc-port <port>', 'ext_proc gRPC port (default 9002)').argParser(parsePort))
    .addOption(new Option('--health-port <port>', 'gRPC health port (default 9003)').argParser(parsePort))
    .addOption(new Option('--metrics-port <port>', 'HTTP port for /metrics, /healthz, /readyz (default 9090)').argParser(parsePort))
    .addOption(new Option('--proxy-port <port>', 'standalone OpenAI-compatible proxy port (off unless set)').argParser(parsePort))
    .option('--log-level <level>', 'trace | debug | info | warn | error | silent')
    .action(async (o: ServeOptions) => {
      const text = o.config !== undefined ? await readFile(o.config, 'utf8') : '{}';
      const config = parseConfig(text, o.config ?? 'defaults', {
        server: { grpcPort: o.grpcPort, healthPort: o.healthPort, metricsPort: o.metricsPort, proxyPort: o.proxyPort },
        logging: { level: o.logLevel },
      });
      const logger = cliLogger(config.logging.level);
      const tracing = startTracing({
        serviceName: config.tracing.serviceName,
        exporter: config.tracing.exporter,
        otlpEndpoint: config.tracing.otlpEndpoint,
        sampleRatio: config.tracing.sampleRatio,
      });
      const server = new FairwayServer(config, { logger });
      const ports = await server.start();
      logger.info({ ports, endpoints: config.pool.endpoints.length }, 'fairway serving');
      installShutdown(logger, async () => {
        await server.shutdown();
        await tracing.shutdown();
      });
    });
}
