// `fairway config check FILE`: validates a Fairway configuration or a Go EPP / llm-d-router EndpointPickerConfig,
// prints the effective Fairway configuration as YAML (what `serve` would run), and exits non-zero with the
// field's path on error. Notices (what a translated file asks for that Fairway does differently) go to stderr.
import { readFile } from 'node:fs/promises';
import { type Command } from 'commander';
import { formatConfig, loadConfig } from '../config/index.js';

export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('configuration tools');
  config
    .command('check')
    .description('validate a Fairway config or an EndpointPickerConfig and print the effective Fairway configuration')
    .argument('<file>', 'the YAML file (- reads standard input)')
    .option('-q, --quiet', 'print nothing on success, only the exit status')
    .action(async (file: string, o: { quiet?: boolean }) => {
      const text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
      const loaded = loadConfig(text, file === '-' ? 'stdin' : file);
      if (o.quiet === true) return;
      if (loaded.format === 'endpoint-picker') process.stderr.write(`${file}: EndpointPickerConfig, translated\n`);
      for (const notice of loaded.notices) process.stderr.write(`warning: ${notice}\n`);
      process.stdout.write(formatConfig(loaded.config));
    });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
