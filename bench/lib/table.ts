// The fixed-width result table.

import type { Row } from './types.js';

export function formatNumber(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return '—';
  const a = Math.abs(n);
  if (a >= 1000) return Math.round(n).toLocaleString('en-US');
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  if (a >= 0.1) return n.toFixed(2);
  if (a === 0) return '0';
  return n.toPrecision(2);
}

export function formatRatio(r: number | null): string {
  if (r === null || !Number.isFinite(r)) return '—';
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`;
}

const columns: { title: string; get: (r: Row) => string; right?: boolean }[] = [
  { title: 'backend', get: (r) => r.backend ?? '-' },
  { title: 'figure', get: (r) => r.figure },
  { title: 'value', get: (r) => formatNumber(r.value), right: true },
  { title: 'unit', get: (r) => r.unit },
  { title: 'reference', get: (r) => r.reference ?? '—' },
  { title: 'ref value', get: (r) => formatNumber(r.referenceValue), right: true },
  { title: 'ratio', get: (r) => formatRatio(r.ratio), right: true },
  { title: 'notes', get: (r) => r.note ?? '' },
];

/** The rows as a fixed-width table; a rule separates suites. */
export function renderTable(rows: Row[]): string {
  const cells = rows.map((r) => columns.map((c) => c.get(r)));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((cs) => cs[i]!.length)));
  const line = (values: string[]): string =>
    values
      .map((v, i) => (i === values.length - 1 ? v : columns[i]!.right ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w, i) => '-'.repeat(i === widths.length - 1 ? Math.min(w, 5) : w)).join('  ');
  const out = [line(columns.map((c) => c.title)), rule];
  rows.forEach((r, i) => {
    const prev = rows[i - 1];
    if (prev && (prev.suite !== r.suite || prev.backend !== r.backend)) out.push('');
    out.push(line(cells[i]!));
  });
  return out.join('\n');
}
