// `fairway serve --config FILE`: the endpoint picker itself, with graceful shutdown on SIGTERM/SIGINT, live
// configuration reload on SIGHUP, and Kubernetes mode (an InferencePool's endpoint picker) with --pool-name.
import cluster from 'node:cluster';
import { readFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { loadConfig, parseConfig } from '../config/index.js';
import { FairwayServer, ipcTransport } from '../server/index.js';
import { startTracing } from '../observability/index.js';
import { cliLogger } from './logger.js';
import { installReload } from './reload.js';
import { installShutdown } from './shutdown.js';
import { runAsWorker, runPrimary } from './workers.js';
import { parseEndpointList, parsePort, parsePositiveInt } from './parse.js';

interface ServeOptions {
  config?: string;
  configFile?: string;
  configText?: string;
  endpoints?: { host: string; port: number }[];
  grpcPort?: number;
  healthPort?: number;
  metricsPort?: number;
  proxyPort?: number;
  logLevel?: string;
  workers?: number;
  poolName?: string;
  poolNamespace?: string;
  poolGroup?: string;
  kubeconfig?: string;
  haEnableLeaderElection?: boolean | string;
  modelServerType?: string;
  watchConfig?: boolean;
  watchConfigIntervalMs?: number;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the endpoint picker: ext_proc for Envoy, optional standalone proxy, metrics and health')
    .option('-c, --config <file>', 'YAML configuration file, Fairway\'s or an EndpointPickerConfig (every field has a default); SIGHUP reloads it')
    .option('--config-file <file>', 'the Go EPP\'s flag: the same as --config')
    .option('--config-text <yaml>', 'the configuration itself (an EndpointPickerConfig or Fairway YAML) instead of a file')
    .addOption(
      new Option('--endpoints <list>', 'a static pool: model servers as host:port,host:port,... (replaces pool.endpoints)').argParser(parseEndpointList),
    )
    .addOption(new Option('--grpc-port <port>', 'ext_proc gRPC port (default 9002)').argParser(parsePort))
    .addOption(new Option('--health-port <port>', 'gRPC health port (default 9003)').argParser(parsePort))
    .addOption(new Option('--metrics-port <port>', 'admin HTTP port: /metrics, /status, /healthz, /readyz (default 9090)').argParser(parsePort))
    .addOption(new Option('--proxy-port <port>', 'standalone OpenAI-compatible proxy port (off unless set)').argParser(parsePort))
    .option('--log-level <level>', 'trace | debug | info | warn | error | silent')
    .addOption(
      new Option('--workers <n>', 'worker processes sharing the ports and the shared state (one per core; default 1)').argParser(parsePositiveInt),
    )
    .option('--pool-name <name>', 'InferencePool to serve (Kubernetes mode; else the static endpoint list)')
    .option('--pool-namespace <ns>', 'namespace of the pool (default: $NAMESPACE, else the pod\'s own, else default)')
    .option('--pool-group <group>', 'API group of the pool: inference.networking.k8s.io (v1) or inference.networking.x-k8s.io (v1alpha2)')
    .option('--kubeconfig <file>', 'kubeconfig file (default: in-cluster service account)')
    .option('--ha-enable-leader-election [enabled]', 'active-passive replicas: only the Lease holder serves (=false turns it off)')
    .option('--model-server-type <type>', 'metric names of the pool\'s model servers: vllm | sglang | trtllm')
    .option('--watch-config', 'also reload when the config file changes (e.g. a mounted ConfigMap)')
    .addOption(new Option('--watch-config-interval-ms <ms>', 'how often --watch-config checks the file').argParser(parsePositiveInt).default(2_000))
    .action(async (o: ServeOptions) => {
      const le = o.haEnableLeaderElection;
      if (le !== undefined && le !== true && le !== 'true' && le !== 'false') {
        throw new Error(`--ha-enable-leader-election: expected true or false, got ${JSON.stringify(le)}`);
      }
      const configPath = o.config ?? o.configFile;
      if (o.config !== undefined && o.configFile !== undefined && o.config !== o.configFile) {
        throw new Error('--config and --config-file name two different files; give one');
      }
      if (configPath !== undefined && o.configText !== undefined) throw new Error('give --config-file or --config-text, not both');
      const overrides = {
        ...(o.endpoints !== undefined ? { pool: { endpoints: o.endpoints } } : {}),
        ...(o.modelServerType !== undefined ? { pool: { metrics: { engine: o.modelServerType } } } : {}),
        server: { grpcPort: o.grpcPort, healthPort: o.healthPort, metricsPort: o.metricsPort, proxyPort: o.proxyPort },
        logging: { level: o.logLevel },
        kubernetes: {
          poolName: o.poolName,
          poolNamespace: o.poolNamespace,
          poolGroup: o.poolGroup,
          kubeconfig: o.kubeconfig,
          ...(le !== undefined ? { leaderElection: { enabled: le === true || le === 'true' } } : {}),
        },
      };
      const workers = o.workers ?? 1;
      // A worker of `--workers N`: the primary serves /metrics (summed over the workers), so its own is unused.
      if (cluster.isWorker) overrides.server.metricsPort = 0;
      const load = (text: string, source: string) => parseConfig(text, source, overrides);
      const text = configPath !== undefined ? await readFile(configPath, 'utf8') : (o.configText ?? '{}');
      const loaded = loadConfig(text, configPath ?? (o.configText !== undefined ? '--config-text' : 'defaults'), overrides);
      const config = loaded.config;
      const logger = cliLogger(config.logging.level);
      if (loaded.format === 'endpoint-picker' && !cluster.isWorker) {
        logger.info({ source: configPath ?? '--config-text' }, 'EndpointPickerConfig translated to Fairway\'s configuration (`fairway config check` prints it)');
        for (const notice of loaded.notices) logger.warn({ notice }, 'EndpointPickerConfig: differs in Fairway');
      }
      if (workers > 1 && cluster.isPrimary) {
        const primary = await runPrimary({
          workers,
          host: config.server.host,
          metricsPort: config.server.metricsPort,
          logger,
          hub: config.sharedState.backend !== 'redis',
        });
        logger.info({ workers, metricsPort: primary.metricsPort, sharedState: config.sharedState.backend === 'redis' ? 'redis' : 'primary' }, 'fairway primary serving');
        installShutdown(logger, () => primary.stop());
        return;
      }
      const tracing = await startTracing({
        serviceName: config.tracing.serviceName,
        exporter: config.tracing.exporter,
        otlpEndpoint: config.tracing.otlpEndpoint,
        sampleRatio: config.tracing.sampleRatio,
      });
      const worker = cluster.isWorker;
      // A secret belongs in the environment (a Kubernetes Secret), not in the config file.
      const adminToken = process.env['FAIRWAY_ADMIN_TOKEN'];
      const server = await FairwayServer.create(config, {
        logger,
        sharedStateTransport: worker && config.sharedState.backend !== 'redis' ? ipcTransport() : undefined,
        ...(adminToken !== undefined && adminToken !== '' ? { adminToken } : {}),
      });
      const ports = await server.start();

      // Signal handlers first, then the line saying we serve: whoever waits for that line may signal at once, and
      // SIGHUP's or SIGTERM's default action would end the process (a reload test lost its server that way).
      const removeReload = installReload({
        path: configPath,
        load,
        server,
        logger,
        watchIntervalMs: o.watchConfig === true ? o.watchConfigIntervalMs : undefined,
      });
      const stop = async (): Promise<void> => {
        removeReload();
        await server.shutdown();
        await tracing.shutdown();
      };
      if (worker) runAsWorker(server.registry, logger, stop);
      else installShutdown(logger, stop);
      const pool = server.kubernetes?.pool;
      logger.info(
        pool !== undefined ? { ports, pool, leaderElection: server.kubernetes?.elector !== undefined } : { ports, endpoints: config.pool.endpoints.length },
        'fairway serving',
      );
    });
}
