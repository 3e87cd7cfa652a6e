import { AddressPool, listeningAddresses } from './addresses.js';
import { wildcardListeners } from './wildcard.js';

describe('loopback address pools', () => {
  it('hand out one address per owner, keep a preferred free one, skip busy ones, and reuse released ones', () => {
    const pool = new AddressPool('127.64.0.0/16');
    expect(pool.allocate('a')).toBe('127.64.0.2');
    expect(pool.allocate('a')).toBe('127.64.0.2');
    expect(pool.allocate('b', '127.64.7.7')).toBe('127.64.7.7');
    expect(pool.allocate('c', '127.64.7.7', (ip) => ip === '127.64.0.3')).toBe('127.64.0.4');
    expect(pool.allocate('d', '10.0.0.1')).toBe('127.64.0.5');
    pool.release('a');
    expect(pool.contains('127.64.255.255')).toBe(false);
    expect(() => new AddressPool('10.96.0.0/16')).toThrow('10.96.0.0/16 is not inside 127.0.0.0/8');
  });

  it('reads listening IPv4 sockets from /proc/net/tcp', () => {
    const table = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0200407F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   104        0 1 1',
      '   1: 0100007F:C350 0100007F:18EB 01 00000000:00000000 00:00000000 00000000     0        0 2 1',
    ].join('\n');
    expect([...listeningAddresses(table)]).toEqual(['127.64.0.2']);
  });
});

describe('wildcard listeners', () => {
  it('are the LISTEN sockets on 0.0.0.0 and ::, by inode', () => {
    const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
    const tcp = [
      header,
      '   0: 00000000:18F7 00000000:0000 0A 00000000:00000000 00:00000000 00000000   104        0 4242 1',
      '   1: 0200407F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   104        0 4343 1',
    ].join('\n');
    const tcp6 = [
      header,
      '   0: 00000000000000000000000000000000:18F7 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   104        0 4444 1',
    ].join('\n');
    expect([...wildcardListeners({ tcp, tcp6 })]).toEqual([
      ['4242', 6391],
      ['4444', 6391],
    ]);
  });
});
