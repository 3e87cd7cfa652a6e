import {
  errantTransactions,
  formatGtidSet,
  GtidParseError,
  isGtidSubset,
  mostAdvanced,
  parseGtidSet,
  subtractGtidSet,
  unionGtidSet,
  waitPosition,
} from './gtid.js';

const U1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const U2 = 'a1b2c3d4-0000-11e1-9e33-c80aa9429562';
const my = (s: string) => parseGtidSet('MySQL', s);
const ma = (s: string) => parseGtidSet('MariaDB', s);

describe('MySQL GTID sets', () => {
  it('parses, merges and prints interval sets (tags of 8.4 included)', () => {
    expect(formatGtidSet(my(`${U1.toUpperCase()}:1-5:6-9:12, ${U2}:3`))).toBe(`${U1}:1-9:12,${U2}:3`);
    expect(formatGtidSet(my(`${U1}:1-3:blue:1-2`))).toBe(`${U1}:1-3,${U1}:blue:1-2`);
    expect(formatGtidSet(my(''))).toBe('');
    expect(() => my('not-a-uuid:1-2')).toThrow(GtidParseError);
    expect(() => my(`${U1}:5-2`)).toThrow(GtidParseError);
  });
  it('answers subset, difference and union', () => {
    expect(isGtidSubset(my(`${U1}:1-5`), my(`${U1}:1-9`))).toBe(true);
    expect(isGtidSubset(my(`${U1}:1-5:7`), my(`${U1}:1-6`))).toBe(false);
    expect(formatGtidSet(subtractGtidSet(my(`${U1}:1-10,${U2}:1-2`), my(`${U1}:3-4:8`)))).toBe(
      `${U1}:1-2:5-7:9-10,${U2}:1-2`,
    );
    expect(formatGtidSet(unionGtidSet(my(`${U1}:1-3`), my(`${U1}:4-6,${U2}:1`)))).toBe(`${U1}:1-6,${U2}:1`);
  });
  it('finds errant transactions, ignoring what the source itself wrote', () => {
    const source = my(`${U1}:1-100`);
    expect(formatGtidSet(errantTransactions(my(`${U1}:1-90`), source, U1))).toBe('');
    // applied after the source was observed: not errant
    expect(formatGtidSet(errantTransactions(my(`${U1}:1-101`), source, U1))).toBe('');
    expect(formatGtidSet(errantTransactions(my(`${U1}:1-90,${U2}:1`), source, U1))).toBe(`${U2}:1`);
  });
  it('picks the most advanced set, or none when histories differ', () => {
    const entries = [
      { name: 'a', set: my(`${U1}:1-90`) },
      { name: 'b', set: my(`${U1}:1-100`) },
      { name: 'c', set: my(`${U1}:1-95`) },
    ];
    expect(mostAdvanced(entries)?.name).toBe('b');
    expect(mostAdvanced([...entries, { name: 'd', set: my(`${U1}:1-50,${U2}:1`) }])).toBeUndefined();
    expect(waitPosition(my(`${U1}:1-3`))).toBe(`${U1}:1-3`);
  });
});

describe('MariaDB GTID positions and states', () => {
  it('keeps the last sequence number per domain and server', () => {
    expect(formatGtidSet(ma('1-2-5,0-1-100,0-2-90,0-1-80'))).toBe('0-1-100,0-2-90,1-2-5');
    expect(() => ma('0-1')).toThrow(GtidParseError);
  });
  it('contains a GTID when the same server reached that sequence number in the domain', () => {
    expect(isGtidSubset(ma('0-1-50'), ma('0-1-100,0-2-120'))).toBe(true);
    expect(isGtidSubset(ma('0-3-101'), ma('0-1-100,0-2-120'))).toBe(false);
    expect(isGtidSubset(ma('0-1-101'), ma('0-1-100'))).toBe(false);
  });
  it('finds a write made on a replica, but not transactions of the source applied since', () => {
    const source = ma('0-1-100');
    expect(formatGtidSet(errantTransactions(ma('0-1-100,0-3-101'), source, '1'))).toBe('0-3-101');
    expect(formatGtidSet(errantTransactions(ma('0-1-105'), source, '1'))).toBe('');
    // a lost primary's unreplicated transaction, seen from its successor
    expect(formatGtidSet(errantTransactions(ma('0-1-106'), ma('0-1-105,0-2-110'), '2'))).toBe('0-1-106');
  });
  it('waits for the last GTID of each domain and picks the most advanced', () => {
    expect(waitPosition(ma('0-1-100,0-2-120,1-1-7'))).toBe('0-2-120,1-1-7');
    const best = mostAdvanced([
      { name: 'r1', set: ma('0-1-100') },
      { name: 'r2', set: ma('0-1-98') },
    ]);
    expect(best?.name).toBe('r1');
    expect(
      mostAdvanced([
        { name: 'x', set: ma('0-1-100') },
        { name: 'y', set: ma('0-1-99,0-3-100') },
      ]),
    ).toBeUndefined();
  });
});
