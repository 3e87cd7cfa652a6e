// The process side of every command, done once: usage and validation errors (exit 2), failures
// to start (exit 1), and a graceful stop on SIGINT or SIGTERM (exit 0).

import {
  commandHelp,
  InvalidOptionsError,
  parseCommandLine,
  program,
  programHelp,
  type Command,
  type Running,
} from './command.js';
import { UsageError } from './flags.js';
import { isVerbose } from './logger.js';

/** What execute needs of `process`. */
export interface ProcessIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  once(signal: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
  removeListener(signal: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
}

/** Runs the command argv names until it stops; resolves to the exit code. */
export async function execute(commands: readonly Command[], argv: string[], io: ProcessIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr.write(programHelp(commands));
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(programHelp(commands));
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.stderr.write(`${program}: unknown command "${name}"\n\n${programHelp(commands)}`);
    return 2;
  }
  const prefix = `${program} ${command.name}: `;
  let options;
  try {
    options = parseCommandLine(command, rest);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`${lines(prefix, err.problems)}\n${commandHelp(command)}`);
      return 2;
    }
    if (err instanceof InvalidOptionsError) {
      io.stderr.write(`${lines(prefix, err.problems)}Run '${program} ${command.name} --help' for its flags.\n`);
      return 2;
    }
    throw err;
  }
  if (options === 'help') {
    io.stdout.write(commandHelp(command));
    return 0;
  }
  // Signals are caught from the start: one that arrives while the command starts stops it as
  // soon as it has started, instead of killing the process half-way.
  const signals = catchSignals(io);
  let running: Running;
  try {
    running = await command.run(options);
  } catch (err) {
    signals.release();
    const shown = err instanceof Error ? (isVerbose(options.logging) && err.stack) || startFailure(err) : String(err);
    io.stderr.write(`${prefix}${shown}\n`);
    return 1;
  }
  return stopOnSignal(running, signals);
}

/** One line for a failure to start; a port in use says which port and what to do. */
function startFailure(err: Error): string {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e.code === 'EADDRINUSE' && e.port !== undefined)
    return `port ${e.port} on ${e.address ?? 'this host'} is already in use (another upm-engine, or another program); stop it, or choose another port`;
  return err.message;
}

function lines(prefix: string, problems: string[]): string {
  return problems.map((p) => `${prefix}${p}\n`).join('');
}

interface CaughtSignals {
  /** Resolves with the first SIGINT or SIGTERM. */
  received: Promise<'SIGINT' | 'SIGTERM'>;
  /** Stops catching them (a second signal then has its default effect). */
  release(): void;
}

function catchSignals(io: ProcessIO): CaughtSignals {
  let resolve!: (signal: 'SIGINT' | 'SIGTERM') => void;
  const received = new Promise<'SIGINT' | 'SIGTERM'>((r) => (resolve = r));
  const onSIGINT = () => {
    io.removeListener('SIGTERM', onSIGTERM);
    resolve('SIGINT');
  };
  const onSIGTERM = () => {
    io.removeListener('SIGINT', onSIGINT);
    resolve('SIGTERM');
  };
  io.once('SIGINT', onSIGINT);
  io.once('SIGTERM', onSIGTERM);
  return {
    received,
    release() {
      io.removeListener('SIGINT', onSIGINT);
      io.removeListener('SIGTERM', onSIGTERM);
    },
  };
}

/** Waits for SIGINT or SIGTERM, then stops; a second signal, no longer handled, kills the process. */
async function stopOnSignal(running: Running, signals: CaughtSignals): Promise<number> {
  const signal = await signals.received;
  running.logger.info({ signal }, 'shutting down');
  try {
    await running.stop();
    return 0;
  } catch (err) {
    running.logger.error({ err }, 'shutdown failed');
    return 1;
  }
}
