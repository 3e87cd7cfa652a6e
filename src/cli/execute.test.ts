// The process handling every command shares: what is printed, the exit code, and the graceful
// stop on SIGINT/SIGTERM, with a stand-in command and a stand-in process.

import { EventEmitter } from 'node:events';
import type { Command, CommonOptions, Running } from './command.js';
import { execute, type ProcessIO } from './execute.js';
import { defineFlags } from './flags.js';
import { loggingFlags, loggingOptions, validateLogging } from './logger.js';

const flags = defineFlags({
  count: { type: 'int', default: '1', usage: 'how many' },
  name: { type: 'string', usage: 'what to call it; required' },
  fail: { type: 'string', usage: 'fail to start with this message' },
  ...loggingFlags,
});

interface Options extends CommonOptions {
  count: number;
  name: string;
  fail?: string;
}

class FakeProcess extends EventEmitter implements ProcessIO {
  out = '';
  err = '';
  stdout = { write: (text: string) => (this.out += text) };
  stderr = { write: (text: string) => (this.err += text) };
}

function setup(stopFails = false) {
  const io = new FakeProcess();
  const events: string[] = [];
  const running: Running = {
    logger: {
      info: (obj: object, msg?: string) => void events.push(`info ${msg} ${JSON.stringify(obj)}`),
      error: (_obj: object, msg?: string) => void events.push(`error ${msg}`),
    } as Running['logger'],
    async stop() {
      events.push('stop');
      if (stopFails) throw new Error('stuck');
    },
  };
  const command: Command<typeof flags, Options> = {
    name: 'thing',
    summary: 'runs a thing',
    flags,
    toOptions: (f) => ({ count: f.count, name: f.name ?? '', fail: f.fail, logging: loggingOptions(f) }),
    validate: (o) => [
      ...(o.count > 0 ? [] : [`--count must be positive, got ${o.count}`]),
      ...(o.name ? [] : ['--name is required']),
      ...validateLogging(o.logging),
    ],
    async run(o) {
      events.push(`run ${o.name} x${o.count}`);
      if (o.fail) throw new Error(o.fail);
      return running;
    },
  };
  const other: Command<typeof loggingFlags> = {
    name: 'other-thing',
    summary: 'runs another thing',
    flags: loggingFlags,
    toOptions: (f) => ({ logging: loggingOptions(f) }),
    validate: () => [],
    run: async () => running,
  };
  const commands = [command, other] as readonly Command[];
  return { io, events, run: (argv: string[]) => execute(commands, argv, io) };
}

describe('execute', () => {
  it('prints the list of commands for --help (exit 0) and without a command (exit 2)', async () => {
    const help = setup();
    expect(await help.run(['--help'])).toBe(0);
    expect(help.io.out).toContain('Usage: upm-engine <command> [flags]');
    expect(help.io.out).toMatch(/^ {2}thing {9}runs a thing$/m);
    expect(help.io.out).toMatch(/^ {2}other-thing {3}runs another thing$/m);
    const none = setup();
    expect(await none.run([])).toBe(2);
    expect(none.io.err).toBe(help.io.out);
  });

  it('rejects an unknown command with the list of commands (exit 2)', async () => {
    const { io, run } = setup();
    expect(await run(['nope'])).toBe(2);
    expect(io.err).toMatch(/^upm-engine: unknown command "nope"\n\nUsage: upm-engine <command>/);
  });

  it("prints a command's --help, generated from its flags, and does not run it", async () => {
    const { io, events, run } = setup();
    expect(await run(['thing', '--name=x', '--help'])).toBe(0);
    expect(events).toEqual([]);
    expect(io.out).toBe(`Usage: upm-engine thing [flags]

runs a thing

Flags:
  --count int          how many (default 1)
  --name string        what to call it; required
  --fail string        fail to start with this message
  --log-level level    trace, debug, info, warn or error; at debug and trace a failure to start prints its stack trace
                       (default info)
  --log-format format  json, text or auto (text in a terminal, else json) (default auto)
  -h, --help           help for thing
`);
  });

  it("reports a command line that does not parse with the command's usage (exit 2), without running it", async () => {
    const { io, events, run } = setup();
    expect(await run(['thing', '--nope', '--count=many'])).toBe(2);
    expect(events).toEqual([]);
    expect(io.err).toMatch(
      /^upm-engine thing: unknown flag: --nope\nupm-engine thing: invalid argument "many" for "--count" flag: not an integer\n\nUsage: upm-engine thing \[flags\]\n/,
    );
  });

  it('reports every validation error at once (exit 2), without running the command', async () => {
    const { io, events, run } = setup();
    expect(await run(['thing', '--count=0', '--log-format=xml'])).toBe(2);
    expect(events).toEqual([]);
    expect(io.err).toBe(
      [
        'upm-engine thing: --count must be positive, got 0',
        'upm-engine thing: --name is required',
        'upm-engine thing: --log-format must be json, text or auto, got "xml"',
        "Run 'upm-engine thing --help' for its flags.",
        '',
      ].join('\n'),
    );
  });

  it('reports a failure to start in one line (exit 1), with the stack trace at --log-level=debug', async () => {
    const quiet = setup();
    expect(await quiet.run(['thing', '--name=x', '--fail=port in use'])).toBe(1);
    expect(quiet.io.err).toBe('upm-engine thing: port in use\n');
    const verbose = setup();
    expect(await verbose.run(['thing', '--name=x', '--fail=port in use', '--log-level=debug'])).toBe(1);
    expect(verbose.io.err).toMatch(/^upm-engine thing: Error: port in use\n {4}at /);
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('stops gracefully on %s (exit 0)', async (signal) => {
    const { io, events, run } = setup();
    const exit = run(['thing', '--name=x', '--count', '3']);
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual(['run x x3']);
    expect(io.listenerCount('SIGINT') + io.listenerCount('SIGTERM')).toBe(2);
    io.emit(signal);
    expect(await exit).toBe(0);
    expect(events).toEqual(['run x x3', `info shutting down {"signal":"${signal}"}`, 'stop']);
    // A second signal is no longer handled: the process's default (being killed) applies.
    expect(io.listenerCount('SIGINT') + io.listenerCount('SIGTERM')).toBe(0);
  });

  it('a signal that arrives while the command starts stops it once it has started', async () => {
    const { io, events, run } = setup();
    const exit = run(['thing', '--name=x']);
    io.emit('SIGINT'); // before run() resolved
    expect(await exit).toBe(0);
    expect(events).toEqual(['run x x1', 'info shutting down {"signal":"SIGINT"}', 'stop']);
  });

  it('stops catching signals when the command fails to start', async () => {
    const { io, run } = setup();
    expect(await run(['thing', '--name=x', '--fail=nope'])).toBe(1);
    expect(io.listenerCount('SIGINT') + io.listenerCount('SIGTERM')).toBe(0);
  });

  it('exits 1 when stopping fails', async () => {
    const { io, events, run } = setup(true);
    const exit = run(['thing', '--name=x']);
    await new Promise((r) => setImmediate(r));
    io.emit('SIGTERM');
    expect(await exit).toBe(1);
    expect(events).toContain('error shutdown failed');
  });
});
