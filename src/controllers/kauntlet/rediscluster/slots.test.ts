import { allocateSlots, outOfBalance, planMoves, targetCounts } from './slots.js';

const count = (r: { start: number; end: number } | undefined) => (r ? r.end - r.start + 1 : 0);
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe('allocateSlots', () => {
  it('splits like redis-cli --cluster create for equal weights', () => {
    expect(allocateSlots([1, 1, 1])).toEqual([
      { start: 0, end: 5460 },
      { start: 5461, end: 10922 },
      { start: 10923, end: 16383 },
    ]);
    expect(allocateSlots([1, 1, 1, 1]).map(count)).toEqual([4096, 4096, 4096, 4096]);
    // As redis-cli 7.0.15 printed for seven masters (Master[i] -> Slots a - b).
    expect(allocateSlots([1, 1, 1, 1, 1, 1, 1]).map((r) => [r!.start, r!.end])).toEqual([
      [0, 2340],
      [2341, 4680],
      [4681, 7021],
      [7022, 9361],
      [9362, 11702],
      [11703, 14042],
      [14043, 16383],
    ]);
    expect(allocateSlots([1])).toEqual([{ start: 0, end: 16383 }]);
  });
  it('follows the weights and gives a weight of 0 no slot', () => {
    expect(allocateSlots([1, 2, 1]).map(count)).toEqual([4096, 8192, 4096]);
    const r = allocateSlots([1, 0, 1]);
    expect(r).toEqual([{ start: 0, end: 8191 }, undefined, { start: 8192, end: 16383 }]);
    expect(allocateSlots([0, 0])).toEqual([undefined, undefined]);
  });
});

describe('targetCounts', () => {
  it('is within one slot of the exact share and gives the extra slots to those holding the most', () => {
    expect(targetCounts([1, 1, 1], [0, 0, 0])).toEqual([5462, 5461, 5461]);
    expect(targetCounts([1, 1, 1], [5000, 6000, 5384])).toEqual([5461, 5462, 5461]);
    expect(targetCounts([1, 1, 1, 1], [5461, 5462, 5461, 0])).toEqual([4096, 4096, 4096, 4096]);
    expect(targetCounts([3, 1], [0, 0])).toEqual([12288, 4096]);
  });
});

describe('outOfBalance', () => {
  it('compares every shard with its exact share against the threshold', () => {
    expect(outOfBalance([1, 1], [8192, 8192], 2)).toBe(false);
    expect(outOfBalance([1, 1], [8100, 8284], 2)).toBe(false);
    expect(outOfBalance([1, 1], [7000, 9384], 2)).toBe(true);
    expect(outOfBalance([1, 0], [8192, 8192], 50)).toBe(true);
  });
});

describe('planMoves', () => {
  it('moves each surplus slot once, highest slots first, for a scale out', () => {
    const moves = planMoves([
      { shard: 'a', slots: range(0, 5460), target: 4096 },
      { shard: 'b', slots: range(5461, 10922), target: 4096 },
      { shard: 'c', slots: range(10923, 16383), target: 4096 },
      { shard: 'd', slots: [], target: 4096 },
    ]);
    expect(moves.map((m) => [m.from, m.to, m.slots.length])).toEqual([
      ['a', 'd', 1365],
      ['b', 'd', 1366],
      ['c', 'd', 1365],
    ]);
    expect(moves[0].slots[0]).toBe(4096);
    expect(moves[0].slots.at(-1)).toBe(5460);
    expect(moves.reduce((n, m) => n + m.slots.length, 0)).toBe(4096);
  });
  it('drains removed shards into the kept ones for a scale in', () => {
    const moves = planMoves([
      { shard: 'a', slots: range(0, 4095), target: 8192 },
      { shard: 'b', slots: range(4096, 8191), target: 8192 },
      { shard: 'c', slots: range(8192, 12287), target: 0 },
      { shard: 'd', slots: range(12288, 16383), target: 0 },
    ]);
    expect(moves.map((m) => [m.from, m.to, m.slots.length])).toEqual([
      ['c', 'a', 4096],
      ['d', 'b', 4096],
    ]);
  });
  it('moves nothing when every holder is at its target', () => {
    expect(planMoves([{ shard: 'a', slots: range(0, 16383), target: 16384 }])).toEqual([]);
  });
});
