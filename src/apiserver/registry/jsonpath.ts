// The JSONPath subset CRD printer columns and scale paths use: `.a.b`, `.a[0]`, `.a[*].b`,
// and filters `.a[?(@.type=="Ready")].status`.

type Step =
  | { kind: 'field'; name: string }
  | { kind: 'index'; index: number }
  | { kind: 'all' }
  | { kind: 'filter'; path: string[]; value: string };

const cache = new Map<string, Step[]>();

export function parseJSONPath(path: string): Step[] {
  const cached = cache.get(path);
  if (cached) return cached;
  let p = path.trim();
  if (p.startsWith('{') && p.endsWith('}')) p = p.slice(1, -1);
  if (p.startsWith('$')) p = p.slice(1);
  const steps: Step[] = [];
  let i = 0;
  while (i < p.length) {
    const ch = p[i];
    if (ch === '.') {
      i++;
      let name = '';
      while (i < p.length && p[i] !== '.' && p[i] !== '[') name += p[i++];
      if (name) steps.push({ kind: 'field', name });
    } else if (ch === '[') {
      const end = findClosing(p, i);
      const inner = p.slice(i + 1, end).trim();
      i = end + 1;
      if (inner === '*') steps.push({ kind: 'all' });
      else if (/^-?\d+$/.test(inner)) steps.push({ kind: 'index', index: Number(inner) });
      else if (/^['"].*['"]$/.test(inner)) steps.push({ kind: 'field', name: inner.slice(1, -1) });
      else {
        const m = /^\?\(@((?:\.[\w-]+)+)\s*==\s*(?:"([^"]*)"|'([^']*)'|(\S+))\)$/.exec(inner);
        if (!m) throw new Error(`unsupported JSONPath expression: ${path}`);
        steps.push({ kind: 'filter', path: m[1].split('.').filter(Boolean), value: m[2] ?? m[3] ?? m[4] });
      }
    } else {
      let name = '';
      while (i < p.length && p[i] !== '.' && p[i] !== '[') name += p[i++];
      steps.push({ kind: 'field', name });
    }
  }
  cache.set(path, steps);
  return steps;
}

function findClosing(p: string, open: number): number {
  let depth = 0;
  let quote = '';
  for (let i = open; i < p.length; i++) {
    const ch = p[i];
    if (quote) {
      if (ch === quote) quote = '';
      continue;
    }
    if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '[' || ch === '(') depth++;
    else if (ch === ']' || ch === ')') {
      depth--;
      if (depth === 0 && ch === ']') return i;
    }
  }
  throw new Error(`unterminated JSONPath expression: ${p}`);
}

function get(v: unknown, name: string): unknown {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[name] : undefined;
}

/** All values the path selects (several for `[*]` and filters). */
export function selectJSONPath(root: unknown, path: string): unknown[] {
  let current: unknown[] = [root];
  for (const step of parseJSONPath(path)) {
    const next: unknown[] = [];
    for (const v of current) {
      switch (step.kind) {
        case 'field': {
          const x = get(v, step.name);
          if (x !== undefined) next.push(x);
          break;
        }
        case 'index':
          if (Array.isArray(v)) {
            const x = v[step.index < 0 ? v.length + step.index : step.index];
            if (x !== undefined) next.push(x);
          }
          break;
        case 'all':
          if (Array.isArray(v)) next.push(...v);
          else if (v && typeof v === 'object') next.push(...Object.values(v));
          break;
        case 'filter':
          if (Array.isArray(v)) {
            for (const item of v) {
              let x: unknown = item;
              for (const n of step.path) x = get(x, n);
              if (x !== undefined && String(x) === step.value) next.push(item);
            }
          }
          break;
      }
    }
    current = next;
  }
  return current;
}

/** The first value the path selects, or undefined. */
export function readJSONPath(root: unknown, path: string): unknown {
  return selectJSONPath(root, path)[0];
}

/** Sets a value at a plain dotted path, creating objects on the way. */
export function writeJSONPath(root: Record<string, unknown>, path: string, value: unknown): void {
  const steps = parseJSONPath(path);
  let cur: Record<string, unknown> = root;
  steps.forEach((step, i) => {
    if (step.kind !== 'field') throw new Error(`cannot write through JSONPath ${path}`);
    if (i === steps.length - 1) cur[step.name] = value;
    else {
      const next = cur[step.name];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[step.name] = {};
      cur = cur[step.name] as Record<string, unknown>;
    }
  });
}
