// Regular expressions for CEL's matches(), find() and findAll(). Kubernetes evaluates them with
// RE2, which runs in linear time; JavaScript's engine backtracks, and a pattern such as (a+)+$
// could take exponential time on a crafted object. Two defences:
// - V8 is told to switch a regular expression that backtracks excessively (50,000 times) to
//   its linear-time engine (--enable-experimental-regexp-engine-on-excessive-backtracks, set
//   once when this module loads; it affects the whole process, only ever making a runaway match
//   finish);
// - what that engine cannot run, and RE2 does not have either (backreferences, lookaround), is
//   refused: the expression fails to compile (literal patterns) or to evaluate, with a message.

import v8 from 'node:v8';

v8.setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

const cache = new Map<string, RegExp | string>();

/** Why a pattern is refused, or undefined when it may be used. */
export function unsupportedRegexReason(pattern: string): string | undefined {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const n = pattern[i + 1] ?? '';
      if (/[1-9]/.test(n) || n === 'k') return 'backreferences are not supported (RE2 syntax)';
      i++;
    } else if (c === '[') {
      // Skip the class: `]` right after `[` or `[^` is a literal.
      let j = i + 1;
      if (pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      for (; j < pattern.length && pattern[j] !== ']'; j++) if (pattern[j] === '\\') j++;
      i = j;
    } else if (c === '(' && /^\(\?(=|!|<=|<!)/.test(pattern.slice(i))) {
      return 'lookaround assertions are not supported (RE2 syntax)';
    }
  }
  return undefined;
}

function swapCase(c: string): string {
  const lower = c.toLowerCase();
  return c === lower ? c.toUpperCase() : lower;
}

/**
 * A pattern matching case-insensitively without the `i` flag: letters become [xX] and letter
 * ranges in classes get their other case too. (V8's linear-time engine, the fallback against
 * runaway backtracking, runs neither the `i` nor the `u` flag.)
 */
function caseFold(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      out += c + (pattern[i + 1] ?? '');
      i++;
    } else if (c === '[') {
      let j = i + 1;
      let body = '';
      let extra = '';
      if (pattern[j] === '^') body += pattern[j++];
      for (; j < pattern.length && (pattern[j] !== ']' || j === i + 1); j++) {
        const d = pattern[j]!;
        if (d === '\\') {
          body += d + (pattern[j + 1] ?? '');
          j++;
        } else if (/[a-zA-Z]/.test(d) && pattern[j + 1] === '-' && /[a-zA-Z]/.test(pattern[j + 2] ?? '')) {
          body += `${d}-${pattern[j + 2]}`;
          extra += `${swapCase(d)}-${swapCase(pattern[j + 2]!)}`;
          j += 2;
        } else {
          body += d;
          if (/[a-zA-Z]/.test(d)) extra += swapCase(d);
        }
      }
      out += `[${body}${extra}]`;
      i = j;
    } else if (/[a-zA-Z]/.test(c)) out += `[${c}${swapCase(c)}]`;
    else out += c;
  }
  return out;
}

/** RE2's leading flag group `(?i)`, `(?s)`, `(?m)` in JavaScript terms (no `i` or `u` flag: see caseFold). */
function translate(pattern: string): { source: string; flags: string } {
  const m = /^\(\?([ims]+)\)/.exec(pattern);
  if (!m) return { source: pattern, flags: '' };
  const body = pattern.slice(m[0].length);
  return {
    source: m[1]!.includes('i') ? caseFold(body) : body,
    flags: [...new Set(m[1]!.replace('i', ''))].join(''),
  };
}

/** The RegExp for a pattern; throws with the reason when it is refused or invalid. */
export function compileGuardedRegex(pattern: string): RegExp {
  let hit = cache.get(pattern);
  if (hit === undefined) {
    const unsupported = unsupportedRegexReason(pattern);
    if (unsupported) hit = `regular expression ${JSON.stringify(pattern)} is refused: ${unsupported}`;
    else {
      try {
        const { source, flags } = translate(pattern);
        hit = new RegExp(source, flags);
      } catch (err) {
        hit = `invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`;
      }
    }
    if (cache.size > 1000) cache.clear();
    cache.set(pattern, hit);
  }
  if (typeof hit === 'string') throw new Error(hit);
  return hit;
}
