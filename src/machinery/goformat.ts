// Go formatting helpers so messages read exactly like kube's: `%q` (strconv.Quote) and
// utilerrors.NewAggregate(...).Error().

const namedEscapes: Record<string, string> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '"': '\\"',
  '\\': '\\\\',
};

/** Go's `%q` of a string: double quotes, with `"`, `\` and control characters escaped.
 * Printable non-ASCII is kept as is (strconv.Quote keeps printable runes). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const named = namedEscapes[ch];
    if (named !== undefined) {
      out += named;
      continue;
    }
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x20 || cp === 0x7f) {
      out += `\\x${cp.toString(16).padStart(2, '0')}`;
    } else if (cp >= 0x80 && cp < 0xa0) {
      out += `\\u${cp.toString(16).padStart(4, '0')}`;
    } else if (cp >= 0xd800 && cp <= 0xdfff) {
      // A lone surrogate is invalid UTF-8 in Go, which quotes it as the replacement rune.
      out += '\\ufffd';
    } else {
      out += ch;
    }
  }
  return out + '"';
}

/** utilerrors.NewAggregate(errs).Error(): one message as is; several, de-duplicated, as
 * `[a, b]` (k8s.io/apimachinery/pkg/util/errors/errors.go). Empty list → ''. */
export function aggregateErrors(messages: string[]): string {
  const seen: string[] = [];
  for (const m of messages) if (!seen.includes(m)) seen.push(m);
  if (seen.length === 0) return '';
  if (seen.length === 1) return seen[0];
  return `[${seen.join(', ')}]`;
}
