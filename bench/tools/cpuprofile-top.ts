// Summarizes a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time,
// the project's and packages' functions with the most inclusive time, and self time by
// file/package. Usage, after `npm run bench` has compiled it:
//   node dist-bench/bench/tools/cpuprofile-top.js PROFILE.cpuprofile [TOP=25]

import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** node_modules/<pkg>, src/<folder>/<file>, node:<module>, or the special V8 categories. */
function fileOf(url: string): string {
  if (!url) return '(native/V8)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return `npm:${nm[1]}`;
  const src = /\/(src|bench)\/(.*)$/.exec(url);
  if (src) return `${src[1]}/${src[2]}`;
  return url.replace(/^file:\/\//, '');
}

export function summarizeProfile(profile: Profile, top = 25): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let idle = 0;
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    if (f.functionName === '(idle)') idle += us;
    const name = `${f.functionName || '(anonymous)'}  ${fileOf(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    byFile.set(fileOf(f.url), (byFile.get(fileOf(f.url)) ?? 0) + us);
  }
  // Inclusive time: each sample counts once for every distinct function on its stack.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      if (!f.url || f.functionName === '(root)') continue;
      const key = `${f.functionName || '(anonymous)'}  ${fileOf(f.url)}:${f.lineNumber + 1}`;
      if (!seen.has(key)) {
        seen.add(key);
        inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
      }
    }
  });
  const busy = total - idle;
  const pct = (us: number): string => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  const lines = [
    `${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (percentages of busy time)`,
    '',
    'self time by function:',
  ];
  for (const [name, us] of [...byFunction]
    .filter(([n]) => !n.startsWith('(idle)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top))
    lines.push(`  ${pct(us)}  ${name}`);
  lines.push('', 'inclusive time (self + callees) of project and package functions:');
  for (const [name, us] of [...inclusive]
    .filter(([n]) => / {2}(src|bench|npm:)/.test(n))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top))
    lines.push(`  ${pct(us)}  ${name}`);
  lines.push('', 'self time by file / package:');
  for (const [name, us] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, top))
    if (name !== '(native/V8)' || us > 0) lines.push(`  ${pct(us)}  ${name}`);
  return lines.join('\n');
}

if (process.argv[1]?.endsWith('cpuprofile-top.js')) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node dist-bench/bench/tools/cpuprofile-top.js PROFILE.cpuprofile [TOP]');
    process.exit(2);
  }
  console.log(summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(top ?? 25)));
}
