#!/usr/bin/env node
// The `fairway` command: serve, sim, demo, top, config check.
import { Command } from 'commander';
import { tuneHeapGrowth } from '../server/index.js';
import { registerConfigCommand } from './config-command.js';
import { exitAfterLogs } from './logger.js';
import { registerDemoCommand } from './demo-command.js';
import { registerServeCommand } from './serve-command.js';
import { registerSimCommand } from './sim-command.js';
import { registerTopCommand } from './top-command.js';

// Before any server starts: with long bodies, V8's default heap growth chains major GCs (src/server/heap-growth.ts).
tuneHeapGrowth(process.execArgv, process.env['NODE_OPTIONS']);

const program = new Command()
  .name('fairway')
  .description('Flow control, fairness and endpoint picking for LLM inference gateways')
  .showHelpAfterError();
registerServeCommand(program);
registerSimCommand(program);
registerDemoCommand(program);
registerTopCommand(program);
registerConfigCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`fairway: ${err instanceof Error ? err.message : String(err)}`);
  exitAfterLogs(1);
});
