// Values as templates see them: JSON-like data (strings, numbers, booleans, null, arrays, plain
// objects) plus Missing, the result of reading a key that is not there. Missing is not an error by
// itself (if, with, default and not accept it); printing it or computing with it is, and the error
// names what was missing.

export class Missing {
  /** `what` is the template text that produced no value, for example `.Parameters.max_connections`. */
  constructor(readonly what: string) {}
}

export function isMissing(v: unknown): v is Missing {
  return v instanceof Missing;
}

/** Missing or null: Go's "no value". */
export function isNil(v: unknown): boolean {
  return v === null || v === undefined || v instanceof Missing;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Missing) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** How a missing value is named in an error: parameters by name, anything else by its expression. */
export function describeMissing(what: string): string {
  const param = /^\.Parameters\.([A-Za-z0-9_]+)$/.exec(what) ?? /^\.Parameters\["([^"]+)"\]$/.exec(what);
  if (param) return `parameter "${param[1]}" has no value (the template gives no default and none is set)`;
  return `${what} has no value`;
}

/** Go's truth: false, 0, "", nil and empty collections are false. */
export function isTrue(v: unknown): boolean {
  if (isNil(v)) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v !== '';
  if (Array.isArray(v)) return v.length > 0;
  if (isPlainObject(v)) return Object.keys(v).length > 0;
  return true;
}

/** Go's type name of a value, for messages and printf's %!verb(type=value). */
export function typeName(v: unknown): string {
  if (isNil(v)) return '<nil>';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return '[]interface {}';
  if (isPlainObject(v)) return 'map[string]interface {}';
  return typeof v;
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A number, or a string holding a decimal number (parameter values arrive as text). */
export function asNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && NUMERIC.test(v.trim())) return Number(v.trim());
  return undefined;
}

/**
 * A number as Go's %v prints it. Integral values print as integers (templates cannot tell an int
 * from a float in JSON data); others in shortest form, with an exponent below 1e-4 and from 1e6.
 */
export function formatFloat(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return BigInt(n).toString();
  const exp = Number(n.toExponential().split('e')[1]);
  if (exp < -4 || exp >= 6) return goExponent(n.toExponential());
  return String(n);
}

/** JavaScript's 1.5e+7 in Go's spelling, 1.5e+07 (at least two exponent digits). */
export function goExponent(js: string): string {
  return js.replace(/e([+-])(\d)$/, 'e$10$2');
}

/** The text a value prints as (fmt.Sprint of one operand). Missing and nil are not printable. */
export function toText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatFloat(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (isNil(v)) return '<nil>';
  if (Array.isArray(v)) return '[' + v.map(toText).join(' ') + ']';
  if (isPlainObject(v)) {
    return (
      'map[' +
      Object.keys(v)
        .sort()
        .map((k) => `${k}:${toText(v[k])}`)
        .join(' ') +
      ']'
    );
  }
  return String(v);
}

type Kind = 'nil' | 'bool' | 'number' | 'string' | 'other';

function kindOf(v: unknown): Kind {
  if (isNil(v)) return 'nil';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'string') return 'string';
  return 'other';
}

/**
 * Equality as eq sees it: values of one kind compare directly; a number and a numeric string
 * compare as numbers (parameter values are text); nil equals only nil.
 */
export function equalValues(a: unknown, b: unknown): boolean {
  const ka = kindOf(a);
  const kb = kindOf(b);
  if (ka === 'other' || kb === 'other') throw new Error(`non-comparable type ${typeName(ka === 'other' ? a : b)}`);
  if (ka === 'nil' || kb === 'nil') return ka === kb;
  if (ka === kb) return a === b;
  if (ka === 'number' || kb === 'number') {
    const na = asNumber(a);
    const nb = asNumber(b);
    if (na !== undefined && nb !== undefined) return na === nb;
  }
  throw new Error(`incompatible types for comparison: ${typeName(a)} and ${typeName(b)}`);
}

/** Ordering for lt/le/gt/ge: numbers (or numeric strings against numbers) and strings. */
export function compareValues(a: unknown, b: unknown): number {
  const ka = kindOf(a);
  const kb = kindOf(b);
  if (ka === 'string' && kb === 'string') return (a as string) < (b as string) ? -1 : a === b ? 0 : 1;
  if (ka === 'number' || kb === 'number') {
    const na = asNumber(a);
    const nb = asNumber(b);
    if (na !== undefined && nb !== undefined) return na < nb ? -1 : na === nb ? 0 : 1;
  }
  if (ka === kb && (ka === 'bool' || ka === 'nil' || ka === 'other'))
    throw new Error(`invalid type for comparison: ${typeName(a)}`);
  throw new Error(`incompatible types for comparison: ${typeName(a)} and ${typeName(b)}`);
}
