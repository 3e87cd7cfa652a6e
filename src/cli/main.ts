#!/usr/bin/env node
// upm-engine: one binary, one subcommand per component. Subcommands wire components from
// flags and nothing more.

import { runAPIServer, apiserverUsage, type RunningEngine } from './apiserver.js';
import { UsageError } from './flags.js';
import { localUsage, runLocal } from './local.js';

const usage = `Usage: upm-engine <command> [flags]

Commands:
  local       run UPM Engine on this machine (what \`npm start\` runs)
  apiserver   run the upm.io aggregated API server

Run 'upm-engine <command> --help' for a command's flags.
`;

const commands: Record<string, (argv: string[]) => Promise<RunningEngine | undefined>> = {
  local: runLocal,
  apiserver: runAPIServer,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(usage);
    return command ? 0 : 2;
  }
  const run = commands[command];
  if (!run) {
    process.stderr.write(`upm-engine: unknown command "${command}"\n\n${usage}`);
    return 2;
  }
  let engine: RunningEngine | undefined;
  try {
    engine = await run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(
        `upm-engine ${command}: ${err.message}\n\n${command === 'local' ? localUsage : apiserverUsage}`,
      );
      return 2;
    }
    process.stderr.write(`upm-engine ${command}: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
  if (!engine) return 0;
  const running = engine;
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      running.logger.info({ signal }, 'shutting down');
      running.stop().then(resolve, (err: unknown) => {
        running.logger.error({ err }, 'shutdown failed');
        resolve();
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`upm-engine: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
