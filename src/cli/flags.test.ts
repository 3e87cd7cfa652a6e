// Flag parsing as kube's pflag does it: both value forms, booleans, lists, defaults, and every
// problem of a command line reported together.

import { defineFlags, flagUsages, parseFlags, UsageError } from './flags.js';

const flags = defineFlags({
  port: { type: 'int', default: '8443', usage: 'HTTPS port' },
  name: { type: 'string', usage: 'a name' },
  verbose: { type: 'bool', usage: 'say more' },
  names: { type: 'list', default: 'a', usage: 'names' },
  every: { type: 'duration', default: '1m', usage: 'period' },
});

function problems(argv: string[]): string[] {
  try {
    parseFlags(flags, argv);
  } catch (err) {
    if (err instanceof UsageError) return err.problems;
    throw err;
  }
  throw new Error(`${argv.join(' ')} parsed`);
}

describe('parseFlags', () => {
  it('gives the defaults when no flag is given', () => {
    expect(parseFlags(flags, [])).toEqual({
      values: { port: 8443, name: undefined, verbose: false, names: ['a'], every: 60_000 },
      help: false,
    });
  });

  it('takes --flag=value and --flag value; the last of a repeated flag wins, lists add up', () => {
    const { values } = parseFlags(flags, [
      '--port=1',
      '--port',
      '2',
      '--name',
      'x',
      '--names=b, c',
      '--names',
      'd',
      '--every=1h30m',
    ]);
    expect(values).toEqual({ port: 2, name: 'x', verbose: false, names: ['b', 'c', 'd'], every: 5_400_000 });
  });

  it('takes booleans as --flag or --flag=true|false', () => {
    expect(parseFlags(flags, ['--verbose']).values.verbose).toBe(true);
    expect(parseFlags(flags, ['--verbose=true']).values.verbose).toBe(true);
    expect(parseFlags(flags, ['--verbose', '--verbose=false']).values.verbose).toBe(false);
  });

  it('recognizes -h and --help', () => {
    expect(parseFlags(flags, ['-h']).help).toBe(true);
    expect(parseFlags(flags, ['--port=1', '--help']).help).toBe(true);
    expect(parseFlags(flags, ['--help=false']).help).toBe(false);
  });

  it('reports every problem of the command line at once', () => {
    expect(problems(['--nope', '--port=x', '--verbose=maybe', '--every', '5x', 'stray', '--name'])).toEqual([
      'unknown flag: --nope',
      'unexpected argument "stray"',
      'flag needs an argument: --name',
      'invalid argument "x" for "--port" flag: not an integer',
      'invalid argument "maybe" for "--verbose" flag: must be true or false',
      'invalid argument "5x" for "--every" flag: not a duration (use e.g. 500ms, 30s, 5m, 1h30m)',
    ]);
  });
});

describe('flagUsages', () => {
  it('lists every flag with its value type and default, aligned', () => {
    expect(flagUsages(flags).split('\n')).toEqual([
      '  --port int        HTTPS port (default 8443)',
      '  --name string     a name',
      '  --verbose         say more',
      '  --names strings   names (default a)',
      '  --every duration  period (default 1m)',
    ]);
  });

  it('wraps long descriptions under their column, keeping the default in one piece', () => {
    const lines = flagUsages({
      long: { type: 'string', value: 'x', default: 'some value', usage: 'word '.repeat(40).trim() },
    }).split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(120);
    for (const line of lines.slice(1)) expect(line).toMatch(/^ {12}\S/);
    expect(lines.at(-1)).toContain('(default some value)');
  });
});
