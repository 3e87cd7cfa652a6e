// A subcommand of upm-engine, in the shape of a kube component's start command
// (k8s.io/sample-apiserver's start.go): flags → options → validate (every error at once) → run.
// The table of commands lives in main.ts; execute.ts does the process handling for all of them.

import type { Logger } from 'pino';
import { flagUsages, parseFlags, type FlagSet, type FlagValues } from './flags.js';
import type { LoggingOptions } from './logger.js';

/** What every command's options carry: the logging settings also decide how run errors are printed. */
export interface CommonOptions {
  logging: LoggingOptions;
}

/** What a command leaves running until SIGINT or SIGTERM. */
export interface Running {
  logger: Pick<Logger, 'info' | 'error'>;
  stop(): Promise<void>;
}

export interface Command<F extends FlagSet = FlagSet, O extends CommonOptions = CommonOptions> {
  name: string;
  /** One line, for the list of commands. */
  summary: string;
  /** Paragraphs for the command's --help; the summary when absent. */
  description?: string;
  flags: F;
  /** Options from parsed flags, with defaults that depend on other flags filled in; does not fail. */
  toOptions(flags: FlagValues<F>): O;
  /** Every problem with the options, as messages naming the flag; empty when they are fine. */
  validate(options: O): string[];
  /** Starts the command's work; rejects (after cleaning up) when it cannot start. */
  run(options: O): Promise<Running>;
}

export const program = 'upm-engine';

/** Options that failed validation; `problems` lists them all. */
export class InvalidOptionsError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

/**
 * Flags, then options, then validation: `help` when --help was asked for, else valid options.
 * Throws UsageError for a command line that does not parse, InvalidOptionsError for invalid options.
 */
export function parseCommandLine<F extends FlagSet, O extends CommonOptions>(
  command: Command<F, O>,
  argv: string[],
): 'help' | O {
  const { values, help } = parseFlags(command.flags, argv);
  if (help) return 'help';
  const options = command.toOptions(values);
  const problems = command.validate(options);
  if (problems.length > 0) throw new InvalidOptionsError(problems);
  return options;
}

export function commandHelp(command: Command): string {
  return `Usage: ${program} ${command.name} [flags]

${command.description ?? command.summary}

Flags:
${flagUsages(command.flags, [{ name: '-h, --help', usage: `help for ${command.name}` }])}
`;
}

export function programHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 3;
  return `Usage: ${program} <command> [flags]

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n')}

Run '${program} <command> --help' for a command's flags.
`;
}
