// Hash slot arithmetic of a RedisCluster, pure: the first allocation (redis-cli's split), the
// share each shard should own by weight, and the smallest set of slot moves that reaches it.
//
// redis-cli --cluster create gives master i the slots up to round(cursor + 16384/n - 1) where the
// cursor advances by 16384/n (single-precision floats), the last master taking the rest: 0-5460,
// 5461-10922, 10923-16383 for three. The same rule with a share proportional to the weight gives
// the weighted split; equal weights give exactly redis-cli's ranges.

import { HASH_SLOTS, type SlotRange } from '../../drivers/redis/cluster.js';

const f32 = Math.fround;

/** The first allocation: contiguous ranges per shard, in the order of `weights` (0: no slots). */
export function allocateSlots(weights: number[]): (SlotRange | undefined)[] {
  const total = weights.reduce((a, w) => a + Math.max(0, w), 0);
  if (total <= 0) return weights.map(() => undefined);
  const lastWeighted = weights.reduce((last, w, i) => (w > 0 ? i : last), -1);
  const out: (SlotRange | undefined)[] = [];
  let first = 0;
  let cursor = f32(0);
  weights.forEach((w, i) => {
    if (w <= 0 || first >= HASH_SLOTS) {
      out.push(undefined);
      return;
    }
    const share = f32((HASH_SLOTS * w) / total);
    let last = Math.round(f32(f32(cursor + share) - 1));
    if (last > HASH_SLOTS - 1 || i === lastWeighted) last = HASH_SLOTS - 1;
    if (last < first) last = first;
    out.push({ start: first, end: last });
    first = last + 1;
    cursor = f32(cursor + share);
  });
  return out;
}

/** The exact (fractional) share of each shard. */
export function exactShares(weights: number[]): number[] {
  const total = weights.reduce((a, w) => a + Math.max(0, w), 0);
  return weights.map((w) => (total > 0 && w > 0 ? (HASH_SLOTS * w) / total : 0));
}

/**
 * Slot counts each shard should own: the floor of its share, plus one for as many shards as the
 * remainder needs, given to those that own the most now (fewest moves), then in spec order. Every
 * count is within one slot of the exact share.
 */
export function targetCounts(weights: number[], current: number[]): number[] {
  const shares = exactShares(weights);
  const counts = shares.map((s) => Math.floor(s));
  let remainder = HASH_SLOTS - counts.reduce((a, b) => a + b, 0);
  if (shares.every((s) => s === 0)) return counts;
  const order = shares
    .map((_, i) => i)
    .filter((i) => shares[i] > counts[i])
    .sort((a, b) => (current[b] ?? 0) - (current[a] ?? 0) || a - b);
  for (const i of order) {
    if (remainder <= 0) break;
    counts[i]++;
    remainder--;
  }
  return counts;
}

/** Whether some shard is off its exact share by more than `thresholdPercent`. */
export function outOfBalance(weights: number[], current: number[], thresholdPercent: number): boolean {
  const shares = exactShares(weights);
  return shares.some((share, i) => {
    const have = current[i] ?? 0;
    if (share === 0) return have > 0;
    return (Math.abs(have - share) / share) * 100 > thresholdPercent;
  });
}

export interface SlotMove {
  from: string;
  to: string;
  slots: number[];
}

export interface Holding {
  /** Shard name (or the ID of a node outside spec that holds slots). */
  shard: string;
  slots: number[];
  /** Slots it should own; 0 for a shard being removed. */
  target: number;
}

/**
 * The moves that bring every holder to its target while moving the fewest slots (each surplus
 * slot moves once): donors give their highest slots, in order, to receivers in order, so the
 * ranges that stay put stay contiguous.
 */
export function planMoves(holdings: Holding[]): SlotMove[] {
  const donors = holdings
    .filter((h) => h.slots.length > h.target)
    .map((h) => ({ shard: h.shard, give: [...h.slots].sort((a, b) => b - a).slice(0, h.slots.length - h.target) }));
  const receivers = holdings
    .filter((h) => h.slots.length < h.target)
    .map((h) => ({ shard: h.shard, need: h.target - h.slots.length }));
  const moves: SlotMove[] = [];
  let r = 0;
  for (const d of donors) {
    let give = d.give;
    while (give.length > 0 && r < receivers.length) {
      const recv = receivers[r];
      const n = Math.min(recv.need, give.length);
      moves.push({ from: d.shard, to: recv.shard, slots: give.slice(0, n).sort((a, b) => a - b) });
      give = give.slice(n);
      recv.need -= n;
      if (recv.need === 0) r++;
    }
  }
  return moves;
}
