// `fairway demo` (what `npm start` runs): a simulated pool, Fairway in front of it (proxy + ext_proc), a printout
// of where everything listens, and optionally a scenario with live progress and a final per-class table.
import { type Command, Option } from 'commander';
import { FairwayServer } from '../server/index.js';
import { renderTable, runLoad, summarize } from '../loadgen/index.js';
import { startSimulatedPool } from '../simulator/index.js';
import { DEMO_MODEL, demoConfig } from './demo-config.js';
import { cliLogger } from './logger.js';
import { parsePort, parsePositive, parsePositiveInt } from './parse.js';
import { SCENARIOS, scenarioNamed } from './scenarios.js';
import { installShutdown } from './shutdown.js';

interface DemoOptions {
  replicas: number;
  timeScale: number;
  scenario?: string;
  proxyPort: number;
  grpcPort: number;
  healthPort: number;
  metricsPort: number;
  durationScale: number;
  /** Exit after the scenario (or at once with no scenario, for smoke tests). */
  exit: boolean;
  logLevel: string;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('start a simulated pool with Fairway in front; optionally drive a multi-tenant scenario')
    .addOption(new Option('--replicas <n>', 'simulated model servers').default(4).argParser(parsePositiveInt))
    .addOption(new Option('--time-scale <x>', 'slow the simulated servers down (capacity / x)').default(4).argParser(parsePositive))
    .addOption(new Option('--scenario <name>', `one of: ${SCENARIOS.map((s) => s.name).join(', ')}`))
    .addOption(new Option('--duration-scale <x>', 'stretch or shrink the scenario').default(1).argParser(parsePositive))
    .addOption(new Option('--proxy-port <port>', 'standalone proxy port').default(8081).argParser(parsePort))
    .addOption(new Option('--grpc-port <port>', 'ext_proc gRPC port').default(9002).argParser(parsePort))
    .addOption(new Option('--health-port <port>', 'gRPC health port').default(9003).argParser(parsePort))
    .addOption(new Option('--metrics-port <port>', 'metrics/health HTTP port').default(9090).argParser(parsePort))
    .option('--exit', 'exit when the scenario ends (or right after start-up without one)', false)
    .option('--log-level <level>', 'log level of Fairway (logs go to stderr)', 'warn')
    .action(async (o: DemoOptions) => runDemo(o));
}

async function runDemo(o: DemoOptions): Promise<void> {
  const scenario = o.scenario !== undefined ? scenarioNamed(o.scenario) : undefined;
  if (o.scenario !== undefined && scenario === undefined) {
    throw new Error(`unknown scenario "${o.scenario}"; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  }
  const logger = cliLogger(o.logLevel);
  const pool = await startSimulatedPool({ replicas: o.replicas, profile: 'ci', timeScale: o.timeScale, model: DEMO_MODEL, host: '127.0.0.1' });
  const config = demoConfig(pool.servers, { grpcPort: o.grpcPort, healthPort: o.healthPort, metricsPort: o.metricsPort, proxyPort: o.proxyPort });
  const server = new FairwayServer(config, { logger });
  let ports;
  try {
    ports = await server.start();
  } catch (err) {
    await pool.close();
    throw err;
  }
  const stop = async (): Promise<void> => {
    await server.shutdown();
    await pool.close();
  };
  const proxyUrl = `http://127.0.0.1:${ports.proxy ?? 0}`;
  console.log(`Fairway demo: ${pool.servers.length} simulated vLLM servers (ci profile, time scale ${o.timeScale}), model ${DEMO_MODEL}`);
  for (const s of pool.servers) console.log(`  model server      http://${s.id}  (/v1/completions, /metrics)`);
  console.log(`  proxy (OpenAI)    ${proxyUrl}/v1/completions`);
  console.log(`  ext_proc (Envoy)  127.0.0.1:${ports.grpc}`);
  console.log(`  gRPC health       127.0.0.1:${ports.health}`);
  console.log(`  metrics           http://127.0.0.1:${ports.metrics}/metrics  (/healthz, /readyz)`);
  console.log(`  status page       http://127.0.0.1:${ports.metrics}/status  (/status.json; terminal: fairway top --url http://127.0.0.1:${ports.metrics})`);
  console.log(`Try: curl -s ${proxyUrl}/v1/completions -H 'content-type: application/json' -H 'x-gateway-inference-objective: interactive' \\`);
  console.log(`       -H 'x-gateway-inference-fairness-id: tenant-a' -d '{"model":"${DEMO_MODEL}","prompt":"Hello","max_tokens":16}'`);

  if (scenario === undefined) {
    if (o.exit) await stop();
    else installShutdown(logger, stop);
    return;
  }
  const durationMs = scenario.durationMs * o.durationScale;
  console.log(`\nScenario "${scenario.name}": ${scenario.description} (${(durationMs / 1_000).toFixed(0)} s)`);
  const records = await runLoad({
    target: proxyUrl,
    model: DEMO_MODEL,
    durationMs,
    classes: scenario.classes.map((c) => ({
      ...c,
      startMs: c.startMs !== undefined ? c.startMs * o.durationScale : undefined,
      stopMs: c.stopMs !== undefined ? c.stopMs * o.durationScale : undefined,
    })),
    onProgress: (recs, elapsed) => {
      const ok = recs.filter((r) => r.status === 200).length;
      const st = server.flowControl.stats();
      process.stdout.write(
        `\r  t=${(elapsed / 1_000).toFixed(0).padStart(3)}s  done=${String(recs.length).padStart(5)}  ok=${String(ok).padStart(5)}  shed=${String(recs.length - ok).padStart(5)}  queued=${String(st.queuedRequests).padStart(5)}  in-flight=${String(st.inflight).padStart(4)}  saturation=${server.saturation.saturation().toFixed(2)}   `,
      );
    },
  });
  process.stdout.write('\n\n');
  console.log(renderTable(summarize(records, durationMs)));
  if (o.exit) await stop();
  else {
    console.log('\nStill serving; Ctrl-C to stop.');
    installShutdown(logger, stop);
  }
}
