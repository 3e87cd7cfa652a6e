// The functions config templates may call. Go's built-ins (and, or, not, eq, ne, lt, le, gt, ge,
// len, index, print, printf, println) plus helpers for config files: default, quote, string
// helpers, integer arithmetic, and size- and CPU-derived values (percentOf, bytes, mebibytes,
// cores, ...). Helpers take the piped value last, as Sprig's do, so `{{ .x | default 5 }}` works.
// `and` and `or` are evaluated lazily by the executor (exec.ts) and are not listed here.

import { quantityValue } from '../../../machinery/quantity.js';
import { goQuote } from '../../../machinery/goformat.js';
import { sprintf } from './printf.js';
import {
  asNumber,
  compareValues,
  equalValues,
  isNil,
  isPlainObject,
  isTrue,
  Missing,
  toText,
  typeName,
} from './values.js';

/** How a function was called: the template text of each argument, for messages. */
export interface CallInfo {
  name: string;
  argSources: readonly string[];
}

export interface TemplateFunction {
  /** Smallest and largest number of arguments (max undefined: variadic). */
  min: number;
  max: number | undefined;
  /** Whether a missing value may be passed (otherwise passing one is an error naming it). */
  acceptsMissing?: boolean;
  call(args: unknown[], info: CallInfo): unknown;
}

const fn = (
  min: number,
  max: number | undefined,
  call: TemplateFunction['call'],
  acceptsMissing = false,
): TemplateFunction => ({ min, max, call, acceptsMissing });

function numberArg(info: CallInfo, args: unknown[], i: number): number {
  const n = asNumber(args[i]);
  if (n === undefined || !Number.isFinite(n)) {
    throw new Error(
      `${info.name}: ${info.argSources[i] ?? 'argument'} is ${typeName(args[i])} ${JSON.stringify(toText(args[i]))}, not a number`,
    );
  }
  return n;
}

function stringArg(info: CallInfo, args: unknown[], i: number): string {
  const v = args[i];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return toText(v);
  throw new Error(`${info.name}: ${info.argSources[i] ?? 'argument'} is ${typeName(v)}, not a string`);
}

/** A quantity (number of base units, or text such as 4Gi or 500m) as a number of base units. */
function quantityArg(info: CallInfo, args: unknown[], i: number): number {
  const v = args[i];
  const n = typeof v === 'number' ? v : typeof v === 'string' ? quantityValue(v) : NaN;
  if (!Number.isFinite(n)) {
    throw new Error(
      `${info.name}: ${info.argSources[i] ?? 'argument'} is ${JSON.stringify(toText(v))}, not a quantity`,
    );
  }
  return n;
}

/** Integer arithmetic when every operand is an integer, floating point otherwise. */
function arithmetic(op: (a: number, b: number) => number): TemplateFunction['call'] {
  return (args, info) => {
    const nums = args.map((_, i) => numberArg(info, args, i));
    const result = nums.reduce(op);
    if (!Number.isFinite(result)) throw new Error(`${info.name}: result is not a finite number`);
    return result;
  };
}

function allIntegers(nums: number[]): boolean {
  return nums.every(Number.isInteger);
}

function boolArg(info: CallInfo, args: unknown[], i: number): boolean {
  const v = args[i];
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const t = v.trim().toLowerCase();
    if (['true', 'on', 'yes', '1'].includes(t)) return true;
    if (['false', 'off', 'no', '0'].includes(t)) return false;
  }
  if (typeof v === 'number' && (v === 0 || v === 1)) return v === 1;
  throw new Error(`${info.name}: ${info.argSources[i] ?? 'argument'} is ${JSON.stringify(toText(v))}, not a boolean`);
}

/** Go's fmt.Sprint: operands joined, with a space between two operands when neither is a string. */
function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += toText(a);
  });
  return out;
}

function indexInto(args: unknown[], info: CallInfo): unknown {
  let value = args[0];
  let what = info.argSources[0] ?? 'value';
  for (let i = 1; i < args.length; i++) {
    const key = args[i];
    const keyText = typeof key === 'string' ? JSON.stringify(key) : toText(key);
    if (isNil(value)) return new Missing(`${what}[${keyText}]`);
    if (Array.isArray(value)) {
      if (typeof key !== 'number' || !Number.isInteger(key))
        throw new Error(`index: cannot index a list with ${keyText}`);
      if (key < 0 || key >= value.length)
        throw new Error(`index: index ${key} out of range for ${what} (length ${value.length})`);
      value = value[key];
    } else if (isPlainObject(value)) {
      if (typeof key !== 'string') throw new Error(`index: map key ${keyText} is not a string`);
      value = Object.hasOwn(value, key) ? value[key] : undefined;
    } else {
      throw new Error(`index: cannot index ${typeName(value)} ${what}`);
    }
    what = `${what}[${keyText}]`;
    if (value === undefined) value = new Missing(what);
  }
  return value;
}

export const builtinFunctions: Record<string, TemplateFunction> = {
  // Go's built-ins
  not: fn(1, 1, (args) => !isTrue(args[0]), true),
  eq: fn(
    2,
    undefined,
    (args) => {
      const [first, ...rest] = args;
      return rest.some((other) => equalValues(first, other));
    },
    true,
  ),
  ne: fn(2, 2, (args) => !equalValues(args[0], args[1]), true),
  lt: fn(2, 2, (args) => compareValues(args[0], args[1]) < 0),
  le: fn(2, 2, (args) => compareValues(args[0], args[1]) <= 0),
  gt: fn(2, 2, (args) => compareValues(args[0], args[1]) > 0),
  ge: fn(2, 2, (args) => compareValues(args[0], args[1]) >= 0),
  len: fn(1, 1, (args, info) => {
    const v = args[0];
    if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
    if (Array.isArray(v)) return v.length;
    if (isPlainObject(v)) return Object.keys(v).length;
    throw new Error(`len: ${info.argSources[0]} is ${typeName(v)}, which has no length`);
  }),
  index: fn(1, undefined, indexInto, true),
  print: fn(0, undefined, (args) => sprint(args)),
  println: fn(0, undefined, (args) => args.map(toText).join(' ') + '\n'),
  printf: fn(1, undefined, (args, info) => sprintf(stringArg(info, args, 0), args.slice(1))),

  // Values
  default: fn(
    2,
    2,
    (args) => {
      const [fallback, value] = args;
      return isNil(value) || value === '' ? fallback : value;
    },
    true,
  ),
  quote: fn(1, 1, (args, info) => goQuote(stringArg(info, args, 0))),
  atoi: fn(1, 1, (args, info) => {
    const n = numberArg(info, args, 0);
    if (!Number.isInteger(n)) throw new Error(`atoi: ${JSON.stringify(toText(args[0]))} is not an integer`);
    return n;
  }),
  onOff: fn(1, 1, (args, info) => (boolArg(info, args, 0) ? 'ON' : 'OFF')),
  yesNo: fn(1, 1, (args, info) => (boolArg(info, args, 0) ? 'yes' : 'no')),

  // Strings (the piped value last)
  lower: fn(1, 1, (args, info) => stringArg(info, args, 0).toLowerCase()),
  upper: fn(1, 1, (args, info) => stringArg(info, args, 0).toUpperCase()),
  trim: fn(1, 1, (args, info) => stringArg(info, args, 0).trim()),
  replace: fn(3, 3, (args, info) =>
    stringArg(info, args, 2)
      .split(stringArg(info, args, 0))
      .join(stringArg(info, args, 1)),
  ),
  contains: fn(2, 2, (args, info) => stringArg(info, args, 1).includes(stringArg(info, args, 0))),
  hasPrefix: fn(2, 2, (args, info) => stringArg(info, args, 1).startsWith(stringArg(info, args, 0))),
  hasSuffix: fn(2, 2, (args, info) => stringArg(info, args, 1).endsWith(stringArg(info, args, 0))),
  split: fn(2, 2, (args, info) => stringArg(info, args, 1).split(stringArg(info, args, 0))),
  join: fn(2, 2, (args, info) => {
    const list = args[1];
    if (!Array.isArray(list)) throw new Error(`join: ${info.argSources[1]} is ${typeName(list)}, not a list`);
    return list.map(toText).join(stringArg(info, args, 0));
  }),

  // Arithmetic: integers stay integers (div truncates), anything else is floating point
  add: fn(
    2,
    undefined,
    arithmetic((a, b) => a + b),
  ),
  sub: fn(
    2,
    2,
    arithmetic((a, b) => a - b),
  ),
  mul: fn(
    2,
    undefined,
    arithmetic((a, b) => a * b),
  ),
  div: fn(2, 2, (args, info) => {
    const [a, b] = [numberArg(info, args, 0), numberArg(info, args, 1)];
    if (b === 0) throw new Error(`div: division of ${a} by zero (${info.argSources[1]})`);
    return allIntegers([a, b]) ? Math.trunc(a / b) : a / b;
  }),
  mod: fn(2, 2, (args, info) => {
    const [a, b] = [numberArg(info, args, 0), numberArg(info, args, 1)];
    if (!allIntegers([a, b])) throw new Error('mod: operands must be integers');
    if (b === 0) throw new Error(`mod: modulo of ${a} by zero (${info.argSources[1]})`);
    return a % b;
  }),
  max: fn(
    2,
    undefined,
    arithmetic((a, b) => Math.max(a, b)),
  ),
  min: fn(
    2,
    undefined,
    arithmetic((a, b) => Math.min(a, b)),
  ),
  floor: fn(1, 1, (args, info) => Math.floor(numberArg(info, args, 0))),
  ceil: fn(1, 1, (args, info) => Math.ceil(numberArg(info, args, 0))),

  // Sizes and CPU
  percentOf: fn(2, 2, (args, info) => Math.floor((quantityArg(info, args, 0) * numberArg(info, args, 1)) / 100)),
  bytes: fn(1, 1, (args, info) => Math.floor(quantityArg(info, args, 0))),
  kibibytes: fn(1, 1, (args, info) => Math.floor(quantityArg(info, args, 0) / 2 ** 10)),
  mebibytes: fn(1, 1, (args, info) => Math.floor(quantityArg(info, args, 0) / 2 ** 20)),
  gibibytes: fn(1, 1, (args, info) => Math.floor(quantityArg(info, args, 0) / 2 ** 30)),
  alignDown: fn(2, 2, (args, info) => {
    const unit = quantityArg(info, args, 1);
    if (unit <= 0) throw new Error(`alignDown: unit ${info.argSources[1]} must be positive`);
    return Math.floor(quantityArg(info, args, 0) / unit) * unit;
  }),
  cores: fn(1, 1, (args, info) => {
    // A number is millicores (as in .Resources); text is a CPU quantity (2, 1500m).
    const v = args[0];
    const cores = typeof v === 'number' ? v / 1000 : quantityArg(info, args, 0);
    if (!Number.isFinite(cores)) throw new Error(`cores: ${info.argSources[0]} is not a CPU quantity`);
    return Math.max(1, Math.ceil(cores - 1e-9));
  }),
};
