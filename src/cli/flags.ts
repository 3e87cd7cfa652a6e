// Typed command-line flags, declared once and used both to parse argv and to print --help, as
// kube components declare theirs with spf13/pflag: `--name=value` or `--name value`, booleans
// as `--name` or `--name=true|false`, lists comma-separated or repeated.

import { parseArgs } from 'node:util';

/** A command line that cannot be parsed; the command's usage is printed with it. */
export class UsageError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

interface FlagTypes {
  string: string;
  bool: boolean;
  int: number;
  /** Milliseconds. */
  duration: number;
  list: string[];
}
export type FlagType = keyof FlagTypes;

export interface Flag {
  type: FlagType;
  usage: string;
  /** What the value is, as --help shows it: `--secure-port int`. Defaults to a name for the type. */
  value?: string;
  /** The default as it would be written on the command line. Bool flags default to false unless this says true, lists to none. */
  default?: string;
  /** Shown in --help instead of `default` when the default is worked out from other flags. */
  defaultText?: string;
}

export type FlagSet = Readonly<Record<string, Flag>>;

/** Keeps the literal flag types, so that FlagValues knows which flags always have a value. */
export function defineFlags<const F extends FlagSet>(flags: F): F {
  return flags;
}

type ValueOf<F extends Flag> = F['type'] extends 'bool' | 'list'
  ? FlagTypes[F['type']]
  : F extends { default: string }
    ? FlagTypes[F['type']]
    : FlagTypes[F['type']] | undefined;

export type FlagValues<F extends FlagSet> = { -readonly [K in keyof F]: ValueOf<F[K]> };

export interface ParsedFlags<F extends FlagSet> {
  values: FlagValues<F>;
  help: boolean;
}

/** Parses argv against `flags` (plus -h/--help); every problem found is reported in one UsageError. */
export function parseFlags<F extends FlagSet>(flags: F, argv: string[]): ParsedFlags<F> {
  const { tokens } = parseArgs({
    args: argv,
    options: {
      ...Object.fromEntries(
        Object.entries(flags).map(([name, f]) => [name, { type: f.type === 'bool' ? 'boolean' : 'string' } as const]),
      ),
      help: { type: 'boolean', short: 'h' },
    },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const problems: string[] = [];
  const given = new Map<string, string[]>();
  let help = false;
  for (const token of tokens) {
    if (token.kind === 'positional') {
      problems.push(`unexpected argument "${token.value}"`);
      continue;
    }
    if (token.kind !== 'option') continue;
    const flag = Object.hasOwn(flags, token.name) ? flags[token.name] : undefined;
    if (token.name === 'help' && !flag) {
      const b = token.value === undefined ? true : parseBool(token.value);
      if (b === undefined) problems.push(`invalid argument "${token.value}" for "--help" flag: must be true or false`);
      else help = b;
      continue;
    }
    if (!flag) {
      problems.push(`unknown flag: ${token.rawName}`);
      continue;
    }
    const value = flag.type === 'bool' ? (token.value ?? 'true') : token.value;
    if (value === undefined) {
      problems.push(`flag needs an argument: ${token.rawName}`);
      continue;
    }
    given.set(token.name, [...(given.get(token.name) ?? []), value]);
  }
  const values: Record<string, FlagTypes[FlagType] | undefined> = {};
  for (const [name, flag] of Object.entries(flags)) {
    const texts = given.get(name);
    try {
      values[name] = texts ? convert(flag, texts) : defaultValue(flag);
    } catch (err) {
      problems.push(`invalid argument "${texts?.at(-1)}" for "--${name}" flag: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new UsageError(problems);
  return { values: values as FlagValues<F>, help };
}

function defaultValue(flag: Flag): FlagTypes[FlagType] | undefined {
  if (flag.type === 'bool') return flag.default === undefined ? false : convert(flag, [flag.default]);
  if (flag.type === 'list') return flag.default === undefined ? [] : splitList(flag.default);
  return flag.default === undefined ? undefined : convert(flag, [flag.default]);
}

/** The flag's value from every time it was given: the last one wins, except for lists, which add up. */
function convert(flag: Flag, texts: string[]): FlagTypes[FlagType] {
  const last = texts[texts.length - 1]!;
  switch (flag.type) {
    case 'string':
      return last;
    case 'bool': {
      const b = parseBool(last);
      if (b === undefined) throw new Error('must be true or false');
      return b;
    }
    case 'int':
      if (!/^[+-]?\d+$/.test(last)) throw new Error('not an integer');
      return Number(last);
    case 'duration':
      return parseDuration(last);
    case 'list':
      return texts.flatMap(splitList);
  }
}

function parseBool(text: string): boolean | undefined {
  return text === 'true' ? true : text === 'false' ? false : undefined;
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Parses Go-style durations: `300ms`, `5s`, `5m`, `1h30m`, `0`. Returns milliseconds. */
export function parseDuration(text: string): number {
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    const n = Number(m[1]);
    total += m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000;
    consumed += m[0].length;
  }
  if (consumed !== text.length || consumed === 0) throw new Error('not a duration (use e.g. 500ms, 30s, 5m, 1h30m)');
  return total;
}

const valueNames: Record<FlagType, string> = {
  string: 'string',
  bool: '',
  int: 'int',
  duration: 'duration',
  list: 'strings',
};

const helpWidth = 120;

/** The flags' lines of --help: name and value, then what the flag does and its default. */
export function flagUsages(flags: FlagSet, extra: { name: string; usage: string }[] = []): string {
  const rows = [
    ...Object.entries(flags).map(([name, f]) => {
      const shownDefault = f.defaultText ?? f.default;
      return {
        left: `--${name}${f.type === 'bool' ? '' : ` ${f.value ?? valueNames[f.type]}`}`,
        words: [...f.usage.split(/\s+/), ...(shownDefault === undefined ? [] : [`(default ${shownDefault})`])],
      };
    }),
    ...extra.map((e) => ({ left: e.name, words: e.usage.split(/\s+/) })),
  ];
  const column = Math.max(...rows.map((r) => r.left.length)) + 4;
  return rows
    .map((r) => {
      const lines = wrap(r.words, Math.max(helpWidth - column, 40));
      return [
        `  ${r.left.padEnd(column - 2)}${lines[0]}`,
        ...lines.slice(1).map((line) => `${' '.repeat(column)}${line}`),
      ].join('\n');
    })
    .join('\n');
}

function wrap(words: string[], width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  return lines;
}
