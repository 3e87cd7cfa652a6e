// printf for templates: Go's fmt verbs %v %s %q %d %b %o %x %X %c %e %E %f %F %g %G %t %T %%,
// flags - + # 0 space, width and precision. Unlike Go, which prints "%!d(string=x)" into the
// output, a verb that does not fit its operand, a missing or an extra operand is an error: a
// config file must not silently carry garbage.

import { formatFloat, goExponent, isNil, toText, typeName } from './values.js';
import { goQuote } from '../../../machinery/goformat.js';

interface Spec {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  zero: boolean;
  space: boolean;
  width: number | undefined;
  precision: number | undefined;
  verb: string;
}

export function sprintf(format: string, args: readonly unknown[]): string {
  let out = '';
  let next = 0;
  for (let i = 0; i < format.length; i++) {
    const ch = format[i];
    if (ch !== '%') {
      out += ch;
      continue;
    }
    const m = /^([-+# 0]*)(\d+)?(?:\.(\d*))?(.)?/su.exec(format.slice(i + 1));
    const [whole, flags, width, precision, verb] = m!;
    if (verb === undefined) throw new Error('printf: format ends with "%"');
    i += whole.length;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (next >= args.length) throw new Error(`printf: missing operand for %${verb} (format ${JSON.stringify(format)})`);
    const spec: Spec = {
      minus: flags.includes('-'),
      plus: flags.includes('+'),
      sharp: flags.includes('#'),
      zero: flags.includes('0') && !flags.includes('-'),
      space: flags.includes(' '),
      width: width === undefined ? undefined : Number(width),
      precision: precision === undefined ? undefined : Number(precision || '0'),
      verb,
    };
    out += formatOne(spec, args[next++]);
  }
  if (next < args.length) {
    const extra = args.slice(next).map((a) => `${typeName(a)}=${toText(a)}`);
    throw new Error(`printf: extra operands ${extra.join(', ')} (format ${JSON.stringify(format)})`);
  }
  return out;
}

function bad(spec: Spec, v: unknown): never {
  throw new Error(`printf: %${spec.verb} cannot format ${typeName(v)} ${JSON.stringify(toText(v))}`);
}

function formatOne(spec: Spec, v: unknown): string {
  if (isNil(v)) bad(spec, v);
  switch (spec.verb) {
    case 'v':
      return pad(spec, typeof v === 'number' ? signed(spec, formatFloat(v)) : toText(v), typeof v === 'number');
    case 's':
      if (typeof v !== 'string') bad(spec, v);
      return pad(spec, spec.precision === undefined ? v : [...v].slice(0, spec.precision).join(''), false);
    case 'q':
      if (typeof v === 'string') return pad(spec, goQuote(v), false);
      if (typeof v === 'number' && Number.isInteger(v)) return pad(spec, `'${String.fromCodePoint(v)}'`, false);
      return bad(spec, v);
    case 't':
      if (typeof v !== 'boolean') bad(spec, v);
      return pad(spec, String(v), false);
    case 'T':
      return pad(spec, typeName(v), false);
    case 'c':
      if (typeof v !== 'number' || !Number.isInteger(v)) bad(spec, v);
      return pad(spec, String.fromCodePoint(v), false);
    case 'd':
    case 'b':
    case 'o':
    case 'x':
    case 'X':
      return integer(spec, v);
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G':
      if (typeof v !== 'number') bad(spec, v);
      return pad(spec, signed(spec, float(spec, v)), true);
    default:
      throw new Error(`printf: unknown verb %${spec.verb}`);
  }
}

function integer(spec: Spec, v: unknown): string {
  if ((spec.verb === 'x' || spec.verb === 'X') && typeof v === 'string') {
    const hex = Buffer.from(v, 'utf8').toString('hex');
    return pad(spec, spec.verb === 'X' ? hex.toUpperCase() : hex, false);
  }
  if (typeof v !== 'number' || !Number.isInteger(v)) bad(spec, v);
  const radix = { d: 10, b: 2, o: 8, x: 16, X: 16 }[spec.verb as 'd'];
  let digits = BigInt(Math.abs(v)).toString(radix);
  if (spec.verb === 'X') digits = digits.toUpperCase();
  if (spec.precision !== undefined) digits = digits.padStart(spec.precision, '0');
  if (spec.sharp) digits = ({ b: '0b', o: '0', x: '0x', X: '0X' }[spec.verb] ?? '') + digits;
  return pad(spec, signed(spec, (v < 0 ? '-' : '') + digits), spec.precision === undefined);
}

function float(spec: Spec, v: number): string {
  if (!Number.isFinite(v)) return formatFloat(v);
  const upper = spec.verb === 'E' || spec.verb === 'G';
  let text: string;
  switch (spec.verb) {
    case 'f':
    case 'F':
      text = v.toFixed(spec.precision ?? 6);
      break;
    case 'e':
    case 'E':
      text = goExponent(v.toExponential(spec.precision ?? 6));
      break;
    default: {
      if (spec.precision === undefined) {
        // Shortest representation, exponent form below 1e-4 and from 1e6 (Go's %g).
        const exp = v === 0 ? 0 : Number(v.toExponential().split('e')[1]);
        text = exp < -4 || exp >= 6 ? goExponent(v.toExponential()) : String(v);
      } else {
        const p = Math.max(spec.precision, 1);
        const exp = v === 0 ? 0 : Number(v.toExponential(p - 1).split('e')[1]);
        text = exp < -4 || exp >= p ? goExponent(v.toExponential(p - 1)) : v.toFixed(Math.max(p - 1 - exp, 0));
        if (!spec.sharp) text = text.replace(/\.?0+(e|$)/, '$1').replace(/^(-?\d+)\.(e|$)/, '$1$2');
      }
    }
  }
  return upper ? text.toUpperCase() : text;
}

function signed(spec: Spec, text: string): string {
  if (text.startsWith('-')) return text;
  if (spec.plus) return '+' + text;
  if (spec.space) return ' ' + text;
  return text;
}

function pad(spec: Spec, text: string, numeric: boolean): string {
  const width = spec.width ?? 0;
  const length = [...text].length;
  if (length >= width) return text;
  const fill = width - length;
  if (spec.minus) return text + ' '.repeat(fill);
  if (spec.zero && numeric) {
    const sign = /^[-+ ]/.test(text) ? text[0] : '';
    return sign + '0'.repeat(fill) + text.slice(sign.length);
  }
  return ' '.repeat(fill) + text;
}
