#!/usr/bin/env node
// upm-engine: one binary, one subcommand per component (the table in commands.ts).
// Subcommands wire components from flags and nothing more.

import { commands } from './commands.js';
import { execute } from './execute.js';

execute(commands, process.argv.slice(2), process).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`upm-engine: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
