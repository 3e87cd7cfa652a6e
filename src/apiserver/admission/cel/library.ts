// The Kubernetes CEL libraries (k8s.io/apiserver/pkg/cel/library) on @marcbachmann/cel-js, as far
// as this server supports them. README "Admission" lists them; anything else does not compile.
//
//   quantity   quantity(s), isQuantity(s), q.isInteger(), q.asInteger(), q.asApproximateFloat(),
//              q.sign(), q.add(q|int), q.sub(q|int), q.isGreaterThan(q), q.isLessThan(q), q.compareTo(q)
//   url        url(s), isURL(s), u.getScheme(), u.getHost(), u.getHostname(), u.getPort(),
//              u.getEscapedPath(), u.getQuery()
//   regex      s.find(re), s.findAll(re), s.findAll(re, n)  (and the standard s.matches(re))
//   lists      l.isSorted(), l.sum(), l.min(), l.max(), l.indexOf(x), l.lastIndexOf(x)
//   strings    s.charAt(i), s.replace(a, b), s.replace(a, b, n), s.reverse(), strings.quote(s)
//              (and the built-in indexOf, lastIndexOf, lowerAscii, upperAscii, split, substring,
//              trim, join)
// Regular expressions run on JavaScript's backtracking engine, so patterns are checked first
// (regex-guard.ts): the ones that can backtrack catastrophically are refused.

import type { Environment } from '@marcbachmann/cel-js';
import { quantityValue } from '../../../machinery/quantity.js';
import { QUANTITY } from '../../../machinery/schema.js';
import { compileGuardedRegex } from './regex-guard.js';

const quantityRe = new RegExp(QUANTITY);

/** A resource.Quantity: its text and its value (compared as a number). */
export class Quantity {
  constructor(
    readonly text: string,
    readonly value: number,
  ) {}

  static parse(text: string): Quantity {
    if (!quantityRe.test(text)) throw new Error(`quantities must match the regular expression '${QUANTITY}'`);
    return new Quantity(text, quantityValue(text));
  }

  static of(value: number): Quantity {
    return new Quantity(String(value), value);
  }
}

/** A parsed URL, as kube's url() returns it. */
export class URLValue {
  constructor(readonly url: URL) {}
}

class StringsLibrary {}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) {
    const x = Number(a);
    const y = Number(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  throw new Error(`no such overload: comparing ${typeof a} and ${typeof b}`);
}

function equal(a: unknown, b: unknown): boolean {
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint'))
    return Number(a) === Number(b);
  return (
    JSON.stringify(a, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)) ===
    JSON.stringify(b, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))
  );
}

function sum(list: unknown[]): unknown {
  if (list.length === 0) return 0n;
  if (list.every((x) => typeof x === 'bigint')) return (list as bigint[]).reduce((a, b) => a + b, 0n);
  if (list.every((x) => typeof x === 'number')) return (list as number[]).reduce((a, b) => a + b, 0);
  throw new Error('sum() of a list of mixed or non-numeric types');
}

function extreme(list: unknown[], sign: 1 | -1, name: string): unknown {
  if (list.length === 0) throw new Error(`${name}() of an empty list`);
  return list.reduce((best, x) => (compare(x, best) * sign > 0 ? x : best));
}

/** Adds the libraries above to a CEL environment. */
export function registerKubernetesLibraries(env: Environment): Environment {
  env
    .registerType('Quantity', Quantity)
    .registerType('URL', URLValue)
    .registerType('StringsLibrary', StringsLibrary)
    .registerConstant('strings', 'StringsLibrary', new StringsLibrary());

  // quantity
  env
    .registerFunction('quantity(string): Quantity', (s: string) => Quantity.parse(s))
    .registerFunction('isQuantity(string): bool', (s: string) => quantityRe.test(s))
    .registerFunction('Quantity.isInteger(): bool', (q: Quantity) => Number.isInteger(q.value))
    .registerFunction('Quantity.asInteger(): int', (q: Quantity) => {
      if (!Number.isInteger(q.value) || !Number.isSafeInteger(q.value))
        throw new Error('cannot convert value to integer');
      return BigInt(q.value);
    })
    .registerFunction('Quantity.asApproximateFloat(): double', (q: Quantity) => q.value)
    .registerFunction('Quantity.sign(): int', (q: Quantity) => BigInt(Math.sign(q.value)))
    .registerFunction('Quantity.add(Quantity): Quantity', (a: Quantity, b: Quantity) => Quantity.of(a.value + b.value))
    .registerFunction('Quantity.add(int): Quantity', (a: Quantity, b: bigint) => Quantity.of(a.value + Number(b)))
    .registerFunction('Quantity.sub(Quantity): Quantity', (a: Quantity, b: Quantity) => Quantity.of(a.value - b.value))
    .registerFunction('Quantity.sub(int): Quantity', (a: Quantity, b: bigint) => Quantity.of(a.value - Number(b)))
    .registerFunction('Quantity.isGreaterThan(Quantity): bool', (a: Quantity, b: Quantity) => a.value > b.value)
    .registerFunction('Quantity.isLessThan(Quantity): bool', (a: Quantity, b: Quantity) => a.value < b.value)
    .registerFunction('Quantity.compareTo(Quantity): int', (a: Quantity, b: Quantity) =>
      BigInt(a.value < b.value ? -1 : a.value > b.value ? 1 : 0),
    );

  // url
  const parseURL = (s: string): URL => {
    const u = new URL(s);
    if (!u.protocol || (!u.host && !s.startsWith('/'))) throw new Error(`URL is invalid: ${s}`);
    return u;
  };
  env
    .registerFunction('url(string): URL', (s: string) => {
      try {
        return new URLValue(parseURL(s));
      } catch {
        throw new Error(`URL parse error during conversion from string: ${s}`);
      }
    })
    .registerFunction('isURL(string): bool', (s: string) => {
      try {
        parseURL(s);
        return true;
      } catch {
        return false;
      }
    })
    .registerFunction('URL.getScheme(): string', (u: URLValue) => u.url.protocol.replace(/:$/, ''))
    .registerFunction('URL.getHost(): string', (u: URLValue) => u.url.host)
    .registerFunction('URL.getHostname(): string', (u: URLValue) => u.url.hostname.replace(/^\[|\]$/g, ''))
    .registerFunction('URL.getPort(): string', (u: URLValue) => u.url.port)
    .registerFunction('URL.getEscapedPath(): string', (u: URLValue) => u.url.pathname)
    .registerFunction('URL.getQuery(): map<string, list<string>>', (u: URLValue) => {
      const out = new Map<string, string[]>();
      for (const [k, v] of u.url.searchParams) out.set(k, [...(out.get(k) ?? []), v]);
      return Object.fromEntries(out);
    });

  // regex (find, findAll); matches() is the standard one, guarded at compile time.
  env
    .registerFunction(
      'string.find(string): string',
      (s: string, re: string) => compileGuardedRegex(re).exec(s)?.[0] ?? '',
    )
    .registerFunction('string.findAll(string): list<string>', (s: string, re: string) =>
      [...s.matchAll(new RegExp(compileGuardedRegex(re).source, `g${compileGuardedRegex(re).flags}`))].map((m) => m[0]),
    )
    .registerFunction('string.findAll(string, int): list<string>', (s: string, re: string, n: bigint) => {
      const all = [...s.matchAll(new RegExp(compileGuardedRegex(re).source, `g${compileGuardedRegex(re).flags}`))].map(
        (m) => m[0],
      );
      return n < 0n ? all : all.slice(0, Number(n));
    });

  // lists
  env
    .registerFunction('list.isSorted(): bool', (l: unknown[]) =>
      l.every((x, i) => i === 0 || compare(l[i - 1], x) <= 0),
    )
    .registerFunction('list.sum(): dyn', (l: unknown[]) => sum(l))
    .registerFunction('list.min(): dyn', (l: unknown[]) => extreme(l, -1, 'min'))
    .registerFunction('list.max(): dyn', (l: unknown[]) => extreme(l, 1, 'max'))
    .registerFunction('list.indexOf(dyn): int', (l: unknown[], x: unknown) => BigInt(l.findIndex((y) => equal(y, x))))
    .registerFunction('list.lastIndexOf(dyn): int', (l: unknown[], x: unknown) => {
      for (let i = l.length - 1; i >= 0; i--) if (equal(l[i], x)) return BigInt(i);
      return -1n;
    });

  // strings (the ones cel-js does not have built in)
  env
    .registerFunction('string.charAt(int): string', (s: string, i: bigint) => {
      const chars = [...s];
      if (i < 0n || i > BigInt(chars.length)) throw new Error(`index out of range: ${i}`);
      return chars[Number(i)] ?? '';
    })
    .registerFunction('string.replace(string, string): string', (s: string, a: string, b: string) => s.split(a).join(b))
    .registerFunction('string.replace(string, string, int): string', (s: string, a: string, b: string, n: bigint) => {
      if (n < 0n) return s.split(a).join(b);
      let out = s;
      let from = 0;
      for (let k = 0n; k < n; k++) {
        const i = out.indexOf(a, from);
        if (i < 0) break;
        out = out.slice(0, i) + b + out.slice(i + a.length);
        from = i + b.length;
      }
      return out;
    })
    .registerFunction('string.reverse(): string', (s: string) => [...s].reverse().join(''))
    .registerFunction('StringsLibrary.quote(string): string', (_lib: StringsLibrary, s: string) => JSON.stringify(s));
  return env;
}
