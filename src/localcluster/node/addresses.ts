// Addresses in 127.0.0.0/8: every Pod and every ClusterIP gets its own. `lo` holds 127.0.0.1/8
// and the local routing table has `local 127.0.0.0/8 dev lo`, so any of them can be bound without
// configuring anything; two specific addresses can share a port.

import { readFileSync } from 'node:fs';

export function ipToNumber(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export function numberToIP(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Hands out the addresses of a CIDR inside 127.0.0.0/8, one per owner. */
export class AddressPool {
  private readonly base: number;
  private readonly size: number;
  private readonly byOwner = new Map<string, number>();
  private readonly owners = new Map<number, string>();
  private next = 2;

  constructor(readonly cidr: string) {
    const [addr, bitsText] = cidr.split('/');
    const base = ipToNumber(addr);
    const bits = Number(bitsText);
    if (base === undefined || !Number.isInteger(bits) || bits < 8 || bits > 30) throw new Error(`invalid CIDR ${cidr}`);
    if (base >>> 24 !== 127) throw new Error(`${cidr} is not inside 127.0.0.0/8: only loopback addresses are used`);
    this.size = 2 ** (32 - bits);
    this.base = (base & ~(this.size - 1)) >>> 0;
  }

  contains(ip: string): boolean {
    const n = ipToNumber(ip);
    return n !== undefined && n > this.base && n < this.base + this.size - 1;
  }

  /**
   * The owner's address: the one it has, else `preferred` when free and inside, else the next free
   * one that is not `busy` (something of this machine listens there already).
   */
  allocate(owner: string, preferred?: string, busy: (ip: string) => boolean = () => false): string {
    const held = this.byOwner.get(owner);
    if (held !== undefined) return numberToIP(held);
    if (preferred && this.contains(preferred)) {
      const n = ipToNumber(preferred)!;
      if (!this.owners.has(n)) return this.claim(owner, n);
    }
    for (let i = 0; i < this.size - 3; i++) {
      const offset = 2 + ((this.next - 2 + i) % (this.size - 3));
      const n = this.base + offset;
      if (!this.owners.has(n) && !busy(numberToIP(n))) {
        this.next = offset + 1;
        return this.claim(owner, n);
      }
    }
    throw new Error(`no free address left in ${this.cidr}`);
  }

  release(owner: string): void {
    const n = this.byOwner.get(owner);
    if (n === undefined) return;
    this.byOwner.delete(owner);
    this.owners.delete(n);
  }

  private claim(owner: string, n: number): string {
    this.byOwner.set(owner, n);
    this.owners.set(n, owner);
    return numberToIP(n);
  }
}

/** IPv4 addresses with a listening TCP socket on this machine (/proc/net/tcp, state 0A). */
export function listeningAddresses(table?: string): Set<string> {
  let text = table;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/net/tcp', 'utf8');
    } catch {
      return new Set();
    }
  }
  const out = new Set<string>();
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== '0A') continue;
    const hex = f[1].split(':')[0];
    // Little-endian bytes of the address.
    const n = parseInt(hex, 16);
    out.add([n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join('.'));
  }
  return out;
}
