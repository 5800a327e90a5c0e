// `fairway sim`: runs N simulated vLLM servers on consecutive ports until SIGINT/SIGTERM.
import { type Command, InvalidArgumentError as CommanderArgumentError, Option } from 'commander';
import {
  FAILURE_KINDS,
  type FailureKind,
  type FakeMetrics,
  PROFILES,
  type ProfileName,
  isFailureKind,
  isProfileName,
  parseFakeMetrics,
  startSimulatedPool,
} from '../simulator/index.js';

interface SimCommandOptions {
  port: number;
  host: string;
  replicas: number;
  profile: ProfileName;
  timeScale: number;
  seed: number;
  model: string;
  models?: string[];
  lora?: string[];
  maxLoras?: number;
  fakeMetrics?: FakeMetrics;
  failureRate: number;
  failureKind: FailureKind;
  speedFactors?: number[];
  priority: boolean;
}

export function registerSimCommand(program: Command): Command {
  return program
    .command('sim')
    .description('run simulated vLLM-compatible model servers (continuous batching, KV cache, /metrics)')
    .requiredOption('--port <port>', 'first port; replica i listens on port + i (0 = ephemeral)', parseIntArg('--port', 0, 65_535))
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--replicas <n>', 'number of servers', parseIntArg('--replicas', 1, 1024), 1)
    .addOption(
      new Option('--profile <name>', 'hardware/model profile')
        .choices(Object.keys(PROFILES))
        .default('ci')
        .argParser((v): ProfileName => {
          if (!isProfileName(v)) throw new CommanderArgumentError(`unknown profile ${v}`);
          return v;
        }),
    )
    .option('--time-scale <x>', 'multiplies every duration (0.1 = ten times faster)', parsePositive('--time-scale'), 1)
    .option('--seed <n>', 'seed of replica 0 (replica i uses seed + i)', parseIntArg('--seed', 0, 2 ** 31 - 1), 1)
    .option('--model <name>', 'served model name', 'sim-model')
    .option('--models <names>', 'a multi-model pool: replica i serves the i-th name (cycling), comma-separated', parseList)
    .option('--lora <names>', 'LoRA adapters loaded at start, comma-separated (enables LoRA)', parseList)
    .option('--max-loras <n>', 'LoRA adapters that may run in one batch', parseIntArg('--max-loras', 1, 1024))
    .option('--fake-metrics <json>', 'fixed /metrics values: {"waiting","running","kvUsage","loraRunning","loraWaiting"}', parseFake)
    .option('--failure-rate <r>', 'fraction of inference requests that fail', parseRate, 0)
    .addOption(
      new Option('--failure-kind <kind>', 'how injected failures fail')
        .choices([...FAILURE_KINDS])
        .default('500')
        .argParser((v): FailureKind => {
          if (!isFailureKind(v)) throw new CommanderArgumentError(`unknown failure kind ${v}`);
          return v;
        }),
    )
    .option('--speed-factors <list>', 'speed per replica, e.g. 1,1,0.5 (a slow third pod)', parseSpeeds)
    .option('--priority', 'order the waiting queue by the request priority field (vLLM priority scheduling)', false)
    .action(async (opts: SimCommandOptions) => {
      const pool = await startSimulatedPool({
        replicas: opts.replicas,
        host: opts.host,
        port: opts.port,
        profile: opts.profile,
        timeScale: opts.timeScale,
        seed: opts.seed,
        model: opts.model,
        models: opts.models?.map((model) => ({ model, loras: opts.lora })),
        loras: opts.lora,
        maxLoras: opts.maxLoras,
        fakeMetrics: opts.fakeMetrics,
        failureRate: opts.failureRate,
        failureKind: opts.failureKind,
        speedFactors: opts.speedFactors,
        schedulingPolicy: opts.priority ? 'priority' : 'fcfs',
      });
      for (const [i, s] of pool.servers.entries()) {
        const speed = opts.speedFactors?.[i] ?? 1;
        const model = opts.models?.[i % opts.models.length] ?? opts.model;
        console.log(`sim ${i}: http://${s.id} model=${model} profile=${opts.profile} speed=${speed}`);
      }
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await pool.close();
    });
}

function parseIntArg(flag: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new CommanderArgumentError(`${flag} must be an integer in [${min}, ${max}], got ${v}`);
    }
    return n;
  };
}

function parsePositive(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new CommanderArgumentError(`${flag} must be a number > 0, got ${v}`);
    return n;
  };
}

function parseRate(v: string): number {
  const n = Number(v);
  if (!(n >= 0 && n <= 1)) throw new CommanderArgumentError(`--failure-rate must be in [0, 1], got ${v}`);
  return n;
}

function parseList(v: string): string[] {
  return v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

function parseSpeeds(v: string): number[] {
  return parseList(v).map(parsePositive('--speed-factors'));
}

function parseFake(v: string): FakeMetrics {
  try {
    return parseFakeMetrics(JSON.parse(v));
  } catch (err) {
    throw new CommanderArgumentError(`--fake-metrics: ${err instanceof Error ? err.message : String(err)}`);
  }
}
