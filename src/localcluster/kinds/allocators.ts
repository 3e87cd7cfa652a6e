// ClusterIP and NodePort allocation for Services, as kube-apiserver's service REST storage does
// (pkg/registry/core/service/ipallocator, portallocator), but held in memory: allocations are
// recorded as Services are created and updated, and reset from the stored Services by
// `seed()` (called by initCoreResources at startup). An address belongs to an owner key
// (`namespace/name`): a Service re-created under the same name gets its old address back, and
// addresses of deleted Services are reclaimed on the next seed.

/** FNV-1a, 32 bit: a stable first choice per owner. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

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

/** A set of integers [min, max] handed out to owners. */
class RangeAllocator {
  private readonly owners = new Map<number, string>();
  private readonly byOwner = new Map<string, Set<number>>();

  constructor(
    readonly min: number,
    readonly max: number,
    /** Where dynamic allocation starts (kube keeps the lower band of a range for static picks). */
    private readonly dynamicMin = min,
  ) {}

  contains(v: number): boolean {
    return v >= this.min && v <= this.max;
  }

  ownerOf(v: number): string | undefined {
    return this.owners.get(v);
  }

  /** Claims a given value for an owner; false when another owner holds it. */
  claim(v: number, owner: string): boolean {
    const holder = this.owners.get(v);
    if (holder !== undefined && holder !== owner) return false;
    this.owners.set(v, owner);
    let set = this.byOwner.get(owner);
    if (!set) this.byOwner.set(owner, (set = new Set()));
    set.add(v);
    return true;
  }

  /** A free value for the owner: one it already holds and does not keep, else the first free
   * one from its hash. Undefined when the range is full. */
  allocate(owner: string, keep: Set<number> = new Set()): number | undefined {
    for (const v of this.byOwner.get(owner) ?? []) if (!keep.has(v)) return v;
    const size = this.max - this.dynamicMin + 1;
    const start = hash(owner) % size;
    for (let i = 0; i < size; i++) {
      const v = this.dynamicMin + ((start + i) % size);
      if (!this.owners.has(v)) {
        this.claim(v, owner);
        return v;
      }
    }
    for (let v = this.min; v < this.dynamicMin; v++) {
      if (!this.owners.has(v)) {
        this.claim(v, owner);
        return v;
      }
    }
    return undefined;
  }

  /** Forgets everything the owner holds except `keep`. */
  releaseOwner(owner: string, keep: Set<number> = new Set()): void {
    const set = this.byOwner.get(owner);
    if (!set) return;
    for (const v of [...set]) {
      if (keep.has(v)) continue;
      set.delete(v);
      if (this.owners.get(v) === owner) this.owners.delete(v);
    }
    if (set.size === 0) this.byOwner.delete(owner);
  }

  reset(): void {
    this.owners.clear();
    this.byOwner.clear();
  }
}

export interface ServiceAllocatorOptions {
  /** The service CIDR; kube's default is 10.96.0.0/12, kind's 10.96.0.0/16. */
  serviceCIDR?: string;
  /** The NodePort range, e.g. [30000, 32767]. */
  nodePortRange?: [number, number];
}

export class ServiceAllocators {
  readonly cidr: string;
  private readonly ips: RangeAllocator;
  readonly ports: RangeAllocator;
  private readonly base: number;

  constructor(opts: ServiceAllocatorOptions = {}) {
    this.cidr = opts.serviceCIDR ?? '10.96.0.0/16';
    const [addr, bitsText] = this.cidr.split('/');
    const bits = Number(bitsText);
    const base = ipToNumber(addr);
    if (base === undefined || !Number.isInteger(bits) || bits < 8 || bits > 30)
      throw new Error(`invalid service CIDR ${this.cidr}`);
    const size = 2 ** (32 - bits);
    this.base = base;
    // Network and broadcast addresses are never handed out; the lower band (kube: size/16,
    // between 16 and 256 addresses) is for Services that ask for an address.
    const band = Math.min(Math.max(16, Math.floor(size / 16)), 256);
    this.ips = new RangeAllocator(1, size - 2, Math.min(band, size - 2));
    const [pmin, pmax] = opts.nodePortRange ?? [30000, 32767];
    this.ports = new RangeAllocator(pmin, pmax);
  }

  /** The n-th address of the range (1: the `kubernetes` Service). */
  address(n: number): string {
    return numberToIP(this.base + n);
  }

  /** The offset of an address in the range, or undefined when outside it (or network/broadcast). */
  offsetOf(ip: string): number | undefined {
    const n = ipToNumber(ip);
    if (n === undefined) return undefined;
    const off = n - this.base;
    return this.ips.contains(off) ? off : undefined;
  }

  claimIP(ip: string, owner: string): 'ok' | 'taken' | 'out-of-range' {
    const off = this.offsetOf(ip);
    if (off === undefined) return 'out-of-range';
    if (!this.ips.claim(off, owner)) return 'taken';
    this.ips.releaseOwner(owner, new Set([off]));
    return 'ok';
  }

  allocateIP(owner: string): string | undefined {
    const off = this.ips.allocate(owner);
    return off === undefined ? undefined : this.address(off);
  }

  releaseIPs(owner: string): void {
    this.ips.releaseOwner(owner);
  }

  /** Resets both allocators to exactly what the given Services hold. */
  seed(services: { namespace: string; name: string; clusterIPs: string[]; nodePorts: number[] }[]): void {
    this.ips.reset();
    this.ports.reset();
    for (const s of services) {
      const owner = `${s.namespace}/${s.name}`;
      for (const ip of s.clusterIPs) {
        const off = this.offsetOf(ip);
        if (off !== undefined) this.ips.claim(off, owner);
      }
      for (const p of s.nodePorts) if (this.ports.contains(p)) this.ports.claim(p, owner);
    }
  }
}
