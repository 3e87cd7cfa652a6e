// GTID sets of both flavors as values, compared without a server: which instance has applied
// more, whether one history contains another, and which transactions an instance has that
// another lacks (errant transactions).
//
// MySQL: `uuid[:tag]:interval[:interval…]` entries, an exact set of transaction numbers per
// originating server. MariaDB: `domain-server-sequence` entries; with gtid_strict_mode and
// log_slave_updates, the last sequence number per (domain, server) in gtid_binlog_state stands
// for every earlier transaction of that server in that domain, so a GTID (d, s, n) is contained
// in a set holding (d, s, m) with m >= n.

export type Flavor = 'MySQL' | 'MariaDB';

type Interval = [bigint, bigint];

export interface GtidSet {
  readonly flavor: Flavor;
  /** MySQL: source uuid (with tag, `uuid:tag`) → sorted, merged, inclusive intervals. */
  readonly intervals: ReadonlyMap<string, readonly Interval[]>;
  /** MariaDB: `domain-server` → highest sequence number. */
  readonly sequences: ReadonlyMap<string, bigint>;
}

export class GtidParseError extends Error {}

const empty = (flavor: Flavor): GtidSet => ({ flavor, intervals: new Map(), sequences: new Map() });

export function parseGtidSet(flavor: Flavor, text: string | null | undefined): GtidSet {
  const src = (text ?? '').replace(/\s+/g, '');
  if (!src) return empty(flavor);
  return flavor === 'MariaDB' ? parseMariadb(src) : parseMysql(src);
}

function parseMariadb(src: string): GtidSet {
  const sequences = new Map<string, bigint>();
  for (const entry of src.split(',')) {
    if (!entry) continue;
    const m = /^(\d+)-(\d+)-(\d+)$/.exec(entry);
    if (!m) throw new GtidParseError(`invalid MariaDB GTID ${JSON.stringify(entry)}`);
    const key = `${m[1]}-${m[2]}`;
    const seq = BigInt(m[3]);
    if ((sequences.get(key) ?? -1n) < seq) sequences.set(key, seq);
  }
  return { flavor: 'MariaDB', intervals: new Map(), sequences };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function parseMysql(src: string): GtidSet {
  const acc = new Map<string, Interval[]>();
  for (const entry of src.split(',')) {
    if (!entry) continue;
    const parts = entry.toLowerCase().split(':');
    const uuid = parts[0];
    if (!UUID.test(uuid)) throw new GtidParseError(`invalid MySQL GTID source ${JSON.stringify(parts[0])}`);
    let key = uuid;
    for (const p of parts.slice(1)) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(p);
      if (!m) {
        if (!/^[a-z_][a-z0-9_]{0,31}$/.test(p))
          throw new GtidParseError(`invalid MySQL GTID part ${JSON.stringify(p)}`);
        key = `${uuid}:${p}`; // a tag (MySQL 8.4): the intervals that follow belong to uuid:tag
        continue;
      }
      const lo = BigInt(m[1]);
      const hi = m[2] === undefined ? lo : BigInt(m[2]);
      if (lo < 1n || hi < lo) throw new GtidParseError(`invalid MySQL GTID interval ${JSON.stringify(p)}`);
      acc.set(key, [...(acc.get(key) ?? []), [lo, hi]]);
    }
  }
  const intervals = new Map<string, Interval[]>();
  for (const [k, v] of acc) intervals.set(k, merge(v));
  return { flavor: 'MySQL', intervals, sequences: new Map() };
}

function merge(list: Interval[]): Interval[] {
  const sorted = [...list].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: Interval[] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1n) last[1] = hi > last[1] ? hi : last[1];
    else out.push([lo, hi]);
  }
  return out;
}

/** The set in the server's own text form (sorted), '' when empty. */
export function formatGtidSet(s: GtidSet): string {
  if (s.flavor === 'MariaDB') {
    return [...s.sequences.entries()]
      .sort(([a], [b]) => compareKeys(a, b))
      .map(([k, n]) => `${k}-${n}`)
      .join(',');
  }
  return [...s.intervals.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, iv]) => `${k}:${iv.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(':')}`)
    .join(',');
}

function compareKeys(a: string, b: string): number {
  const [ad, as] = a.split('-').map(Number);
  const [bd, bs] = b.split('-').map(Number);
  return ad - bd || as - bs;
}

export const isEmptyGtidSet = (s: GtidSet): boolean => s.intervals.size === 0 && s.sequences.size === 0;

function sameFlavor(a: GtidSet, b: GtidSet): void {
  if (a.flavor !== b.flavor) throw new GtidParseError(`cannot compare ${a.flavor} and ${b.flavor} GTID sets`);
}

/** The transactions of `a` that `b` does not contain (a − b). */
export function subtractGtidSet(a: GtidSet, b: GtidSet): GtidSet {
  sameFlavor(a, b);
  if (a.flavor === 'MariaDB') {
    const sequences = new Map<string, bigint>();
    for (const [k, n] of a.sequences) if ((b.sequences.get(k) ?? -1n) < n) sequences.set(k, n);
    return { flavor: a.flavor, intervals: new Map(), sequences };
  }
  const intervals = new Map<string, Interval[]>();
  for (const [k, list] of a.intervals) {
    let rest: Interval[] = list.map(([lo, hi]) => [lo, hi]);
    for (const [blo, bhi] of b.intervals.get(k) ?? []) {
      rest = rest.flatMap(([lo, hi]): Interval[] => {
        if (bhi < lo || blo > hi) return [[lo, hi]];
        const out: Interval[] = [];
        if (blo > lo) out.push([lo, blo - 1n]);
        if (bhi < hi) out.push([bhi + 1n, hi]);
        return out;
      });
    }
    if (rest.length) intervals.set(k, rest);
  }
  return { flavor: a.flavor, intervals, sequences: new Map() };
}

/** Whether every transaction of `a` is in `b`. */
export const isGtidSubset = (a: GtidSet, b: GtidSet): boolean => isEmptyGtidSet(subtractGtidSet(a, b));

export function unionGtidSet(a: GtidSet, b: GtidSet): GtidSet {
  sameFlavor(a, b);
  if (a.flavor === 'MariaDB') {
    const sequences = new Map(a.sequences);
    for (const [k, n] of b.sequences) if ((sequences.get(k) ?? -1n) < n) sequences.set(k, n);
    return { flavor: a.flavor, intervals: new Map(), sequences };
  }
  const intervals = new Map<string, Interval[]>();
  for (const k of new Set([...a.intervals.keys(), ...b.intervals.keys()])) {
    intervals.set(k, merge([...(a.intervals.get(k) ?? []), ...(b.intervals.get(k) ?? [])].map(([l, h]) => [l, h])));
  }
  return { flavor: a.flavor, intervals, sequences: new Map() };
}

/**
 * The set without the transactions originated by `origin` (a MariaDB server_id, a MySQL
 * server_uuid). The transactions a primary writes itself are left out when looking for errant
 * transactions on its replicas: a replica may have applied some of them after the primary was
 * observed, which is not divergence.
 */
export function withoutOrigin(s: GtidSet, origin: string | undefined): GtidSet {
  if (origin === undefined) return s;
  if (s.flavor === 'MariaDB') {
    const sequences = new Map([...s.sequences].filter(([k]) => k.split('-')[1] !== origin));
    return { flavor: s.flavor, intervals: new Map(), sequences };
  }
  const o = origin.toLowerCase();
  const intervals = new Map([...s.intervals].filter(([k]) => k.split(':')[0] !== o));
  return { flavor: s.flavor, intervals, sequences: new Map() };
}

/**
 * Transactions `replica` has that `source` lacks and that `source` did not write itself: the
 * history of the replica has diverged (a write made on the replica, or a lost primary's
 * unreplicated transaction). Empty when the replica is only behind.
 */
export function errantTransactions(replica: GtidSet, source: GtidSet, sourceOrigin: string | undefined): GtidSet {
  return withoutOrigin(subtractGtidSet(replica, source), sourceOrigin);
}

/**
 * The entry whose set contains every other set (ties: the first such entry), or undefined when
 * the sets are not ordered by containment (the histories differ: no instance is safe to promote).
 */
export function mostAdvanced<T extends { set: GtidSet }>(entries: readonly T[]): T | undefined {
  return entries.find((e) => entries.every((o) => isGtidSubset(o.set, e.set)));
}

/**
 * What a server waits for to have applied everything in `s`: the MySQL set itself, or for
 * MariaDB the GTID position (the last GTID of each domain), which MASTER_GTID_WAIT compares.
 */
export function waitPosition(s: GtidSet): string {
  if (s.flavor === 'MySQL') return formatGtidSet(s);
  const last = new Map<string, [string, bigint]>();
  for (const [k, n] of s.sequences) {
    const domain = k.split('-')[0];
    const cur = last.get(domain);
    if (!cur || cur[1] < n) last.set(domain, [k, n]);
  }
  return [...last.values()]
    .sort(([a], [b]) => compareKeys(a, b))
    .map(([k, n]) => `${k}-${n}`)
    .join(',');
}
