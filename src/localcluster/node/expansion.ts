// `$(VAR)` expansion as the kubelet does it for env values, command, args and subPathExpr
// (kubernetes third_party/forked/golang/expansion): `$(NAME)` becomes the value when NAME is
// known and stays as written otherwise; `$$` is a literal `$`; any other `$` stays.

export function expand(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (c !== '$' || i + 1 >= input.length) {
      out += c;
      i++;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      const value = name === '' ? undefined : lookup(name);
      out += value ?? `$(${name})`;
      i = close + 1;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

/** Expands against an ordered environment (the last definition of a name wins). */
export function envLookup(env: readonly { name: string; value: string }[]): (name: string) => string | undefined {
  const map = new Map<string, string>();
  for (const e of env) map.set(e.name, e.value);
  return (name) => map.get(name);
}
