// The functions configuration templates can call: Go text/template's built-ins (and, or, not,
// len, index, slice, print, printf, println, eq, ne, lt, le, gt, ge, html, js, urlquery) and
// helpers for configuration files: arithmetic (add, sub, mul, div, mod, max, min), quantity
// conversions (bytes, kibibytes, mebibytes, gibibytes, millicores), conversions (int, float,
// toString) and string helpers (upper, lower, trim, trimPrefix, trimSuffix, replace, contains,
// hasPrefix, hasSuffix, split, join, quote, default).

import { quantityValue } from '../../machinery/quantity.js';
import { formatNumber, isMap, mapPath, printValue, sprint, truth, type TemplateFunction } from './exec.js';

function toNumber(v: unknown, fn: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') throw new Error(`${fn}: ${v} is not a number`);
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v.trim());
    if (Number.isFinite(n)) return n;
  }
  throw new Error(`${fn}: ${JSON.stringify(v ?? null)} is not a number`);
}

function toQuantity(v: unknown, fn: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const n = quantityValue(v);
    if (Number.isFinite(n)) return n;
  }
  throw new Error(`${fn}: ${JSON.stringify(v ?? null)} is not a quantity`);
}

function toInt(v: unknown, fn: string): number {
  const n = toNumber(v, fn);
  if (!Number.isInteger(n)) throw new Error(`${fn}: ${formatNumber(n)} is not an integer`);
  return n;
}

function arith(name: string, op: (a: number, b: number) => number): TemplateFunction {
  return (...args) => {
    if (args.length < 2) throw new Error(`${name} needs at least two operands`);
    return args.map((a) => toNumber(a, name)).reduce((a, b) => op(a, b));
  };
}

function basicKind(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (v === null || v === undefined) return 'nil';
  if (Array.isArray(v)) return 'list';
  return typeof v;
}

function equal(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (typeof a !== typeof b || basicKind(a) === 'list' || isMap(a) || isMap(b))
    throw new Error(`incompatible types for comparison: ${basicKind(a)} and ${basicKind(b)}`);
  return a === b;
}

function less(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a < b;
  if (typeof a === 'string' && typeof b === 'string') return a < b;
  throw new Error(`incompatible types for comparison: ${basicKind(a)} and ${basicKind(b)}`);
}

/** A subset of fmt.Sprintf: %v %s %d %f %g %e %q %x %X %t %%, with flags, width and precision. */
export function sprintf(format: string, ...args: unknown[]): string {
  let argi = 0;
  return (
    format.replace(/%([-+ #0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/g, (_m, flags: string, width, prec, verb: string) => {
      if (verb === '%') return '%';
      if (argi >= args.length) return `%!${verb}(MISSING)`;
      const a = args[argi++];
      let s: string;
      const p = prec !== undefined ? Number(prec) : undefined;
      switch (verb) {
        case 'v':
        case 's':
          s = printValue(a);
          if (p !== undefined) s = s.slice(0, p);
          break;
        case 'd':
          s = typeof a === 'number' && Number.isInteger(a) ? String(a) : `%!d(${basicKind(a)}=${printValue(a)})`;
          if (flags.includes('+') && typeof a === 'number' && a >= 0) s = `+${s}`;
          break;
        case 'f':
        case 'F':
          s = typeof a === 'number' ? a.toFixed(p ?? 6) : `%!f(${basicKind(a)}=${printValue(a)})`;
          break;
        case 'e':
          s =
            typeof a === 'number' ? a.toExponential(p ?? 6).replace(/e([+-])(\d)$/, 'e$10$2') : `%!e(${printValue(a)})`;
          break;
        case 'g':
          s =
            typeof a === 'number'
              ? p !== undefined
                ? String(Number(a.toPrecision(p)))
                : formatNumber(a)
              : `%!g(${printValue(a)})`;
          break;
        case 'q':
          s = JSON.stringify(printValue(a));
          break;
        case 'x':
        case 'X': {
          const hex =
            typeof a === 'number' && Number.isInteger(a)
              ? a.toString(16)
              : Buffer.from(printValue(a), 'utf8').toString('hex');
          s = verb === 'X' ? hex.toUpperCase() : hex;
          break;
        }
        case 't':
          s = typeof a === 'boolean' ? String(a) : `%!t(${basicKind(a)}=${printValue(a)})`;
          break;
        default:
          s = `%!${verb}(${basicKind(a)}=${printValue(a)})`;
      }
      if (width !== undefined && s.length < Number(width)) {
        const pad = Number(width) - s.length;
        if (flags.includes('-')) s = s + ' '.repeat(pad);
        else if (flags.includes('0') && /[dfFeg]/.test(verb)) {
          const sign = /^[+-]/.test(s) ? s[0] : '';
          s = sign + '0'.repeat(pad) + s.slice(sign.length);
        } else s = ' '.repeat(pad) + s;
      }
      return s;
    }) +
    (argi < args.length
      ? `%!(EXTRA ${args
          .slice(argi)
          .map((a) => `${basicKind(a)}=${printValue(a)}`)
          .join(', ')})`
      : '')
  );
}

/** The functions, with `index` reporting missing keys through `missingKey` as field access does. */
export function templateFunctions(
  missingKey?: (path: string[], key: string) => string,
): Record<string, TemplateFunction> {
  return {
    not: (v) => !truth(v),
    len: (v) => {
      if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
      if (Array.isArray(v)) return v.length;
      if (isMap(v)) return Object.keys(v).length;
      throw new Error(`len of type ${basicKind(v)}`);
    },
    index: (v, ...keys) => {
      let cur = v;
      for (const k of keys) {
        if (Array.isArray(cur)) {
          const i = toInt(k, 'index');
          if (i < 0 || i >= cur.length) throw new Error(`index out of range: ${i}`);
          cur = cur[i];
        } else if (isMap(cur)) {
          const key = String(k);
          if (!Object.hasOwn(cur, key))
            throw new Error(missingKey?.(mapPath(cur), key) ?? `map has no entry for key ${JSON.stringify(key)}`);
          cur = cur[key];
        } else throw new Error(`can't index item of type ${basicKind(cur)}`);
      }
      return cur;
    },
    slice: (v, ...idx) => {
      const [i, j] = idx.map((x) => toInt(x, 'slice'));
      if (typeof v === 'string' || Array.isArray(v)) return v.slice(i ?? 0, j);
      throw new Error(`can't slice item of type ${basicKind(v)}`);
    },
    print: (...args) => sprint(args),
    println: (...args) => `${args.map(printValue).join(' ')}\n`,
    printf: (format, ...args) => sprintf(String(format), ...args),
    eq: (a, ...bs) => {
      if (bs.length === 0) throw new Error('missing argument for comparison');
      return bs.some((b) => equal(a, b));
    },
    ne: (a, b) => !equal(a, b),
    lt: (a, b) => less(a, b),
    le: (a, b) => less(a, b) || equal(a, b),
    gt: (a, b) => !less(a, b) && !equal(a, b),
    ge: (a, b) => !less(a, b),
    html: (...args) =>
      sprint(args).replace(
        /[&<>"']/g,
        (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' })[c]!,
      ),
    js: (...args) => JSON.stringify(sprint(args)).slice(1, -1).replace(/'/g, "\\'"),
    urlquery: (...args) => encodeURIComponent(sprint(args)),

    add: arith('add', (a, b) => a + b),
    sub: arith('sub', (a, b) => a - b),
    mul: arith('mul', (a, b) => a * b),
    div: (a, b) => {
      const x = toNumber(a, 'div');
      const y = toNumber(b, 'div');
      if (y === 0) throw new Error('division by zero');
      return Number.isInteger(x) && Number.isInteger(y) ? Math.trunc(x / y) : x / y;
    },
    mod: (a, b) => {
      const y = toInt(b, 'mod');
      if (y === 0) throw new Error('division by zero');
      return toInt(a, 'mod') % y;
    },
    max: (...args) => Math.max(...args.map((a) => toNumber(a, 'max'))),
    min: (...args) => Math.min(...args.map((a) => toNumber(a, 'min'))),
    int: (v) => Math.trunc(toNumber(v, 'int')),
    float: (v) => toNumber(v, 'float'),
    toString: (v: unknown) => printValue(v),
    bytes: (v) => Math.floor(toQuantity(v, 'bytes')),
    kibibytes: (v) => Math.floor(toQuantity(v, 'kibibytes') / 2 ** 10),
    mebibytes: (v) => Math.floor(toQuantity(v, 'mebibytes') / 2 ** 20),
    gibibytes: (v) => Math.floor(toQuantity(v, 'gibibytes') / 2 ** 30),
    millicores: (v) => Math.round(toQuantity(v, 'millicores') * 1000),

    upper: (s) => printValue(s).toUpperCase(),
    lower: (s) => printValue(s).toLowerCase(),
    trim: (s) => printValue(s).trim(),
    trimPrefix: (prefix, s) => {
      const str = printValue(s);
      const p = printValue(prefix);
      return str.startsWith(p) ? str.slice(p.length) : str;
    },
    trimSuffix: (suffix, s) => {
      const str = printValue(s);
      const p = printValue(suffix);
      return p && str.endsWith(p) ? str.slice(0, -p.length) : str;
    },
    replace: (from, to, s) => printValue(s).split(printValue(from)).join(printValue(to)),
    contains: (sub, s) => printValue(s).includes(printValue(sub)),
    hasPrefix: (prefix, s) => printValue(s).startsWith(printValue(prefix)),
    hasSuffix: (suffix, s) => printValue(s).endsWith(printValue(suffix)),
    split: (sep, s) => printValue(s).split(printValue(sep)),
    join: (sep, list) => {
      if (!Array.isArray(list)) throw new Error(`join: ${basicKind(list)} is not a list`);
      return list.map(printValue).join(printValue(sep));
    },
    quote: (...args) => args.map((a) => JSON.stringify(printValue(a))).join(' '),
    default: (fallback, v) => (truth(v) ? v : fallback),
  };
}
