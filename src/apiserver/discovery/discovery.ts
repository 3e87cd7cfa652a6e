// API discovery: the legacy documents (/api, /apis, /apis/<group>, /apis/<group>/<version>)
// and aggregated discovery (apidiscovery.k8s.io v2 and v2beta1) with ETags.

import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ALL_VERBS, type ResourceDefinition } from '../../machinery/definition.js';
import { notAcceptable, pathNotFound } from '../../machinery/errors.js';
import { parseAccept } from '../endpoints/negotiation.js';
import { notModified } from '../endpoints/http.js';

interface GroupVersion {
  group: string;
  version: string;
  resources: ResourceDefinition[];
}

export function storageVersionHash(def: ResourceDefinition): string {
  return createHash('sha256')
    .update(`${def.group}/${def.version}/${def.kind}`)
    .digest()
    .subarray(0, 8)
    .toString('base64');
}

function verbsOf(def: ResourceDefinition): string[] {
  return [...(def.verbs ?? ALL_VERBS)].sort();
}

function apiResources(defs: ResourceDefinition[]): unknown[] {
  const out: unknown[] = [];
  for (const def of defs) {
    out.push({
      name: def.plural,
      singularName: def.singular,
      namespaced: def.namespaced,
      kind: def.kind,
      verbs: verbsOf(def),
      ...(def.shortNames.length ? { shortNames: def.shortNames } : {}),
      ...(def.categories.length ? { categories: def.categories } : {}),
      storageVersionHash: storageVersionHash(def),
    });
    if (def.subresources.status) {
      out.push({
        name: `${def.plural}/status`,
        singularName: '',
        namespaced: def.namespaced,
        kind: def.kind,
        verbs: ['get', 'patch', 'update'],
      });
    }
    if (def.subresources.finalize) {
      out.push({
        name: `${def.plural}/finalize`,
        singularName: '',
        namespaced: def.namespaced,
        kind: def.kind,
        verbs: ['update'],
      });
    }
    if (def.subresources.scale) {
      out.push({
        name: `${def.plural}/scale`,
        singularName: '',
        namespaced: def.namespaced,
        group: 'autoscaling',
        version: 'v1',
        kind: 'Scale',
        verbs: ['get', 'patch', 'update'],
      });
    }
  }
  return out;
}

function aggregatedResource(def: ResourceDefinition): unknown {
  const subresources: unknown[] = [];
  if (def.subresources.status) {
    subresources.push({
      subresource: 'status',
      responseKind: { group: def.group, version: def.version, kind: def.kind },
      verbs: ['get', 'patch', 'update'],
    });
  }
  if (def.subresources.finalize) {
    subresources.push({
      subresource: 'finalize',
      responseKind: { group: def.group, version: def.version, kind: def.kind },
      verbs: ['update'],
    });
  }
  if (def.subresources.scale) {
    subresources.push({
      subresource: 'scale',
      responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' },
      verbs: ['get', 'patch', 'update'],
    });
  }
  return {
    resource: def.plural,
    responseKind: { group: def.group, version: def.version, kind: def.kind },
    scope: def.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: def.singular,
    verbs: verbsOf(def),
    ...(def.shortNames.length ? { shortNames: def.shortNames } : {}),
    ...(def.categories.length ? { categories: def.categories } : {}),
    ...(subresources.length ? { subresources } : {}),
  };
}

type AggregatedVersion = 'v2' | 'v2beta1';

/** What an Accept header asks of a discovery endpoint. */
function discoveryFormat(accept: string | undefined): AggregatedVersion | 'legacy' {
  for (const c of parseAccept(accept)) {
    const json =
      (c.type === 'application' && (c.subtype === 'json' || c.subtype === '*')) ||
      (c.type === '*' && c.subtype === '*');
    if (!json) continue;
    if (
      c.params['as'] === 'APIGroupDiscoveryList' &&
      c.params['g'] === 'apidiscovery.k8s.io' &&
      (c.params['v'] === 'v2' || c.params['v'] === 'v2beta1')
    ) {
      return c.params['v'];
    }
    if (!c.params['as'] && !c.params['g'] && !c.params['v']) return 'legacy';
  }
  throw notAcceptable([
    'application/json',
    'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList',
    'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList',
  ]);
}

interface CachedDocument {
  body: string;
  etag: string;
}

/** A group served by another server behind an APIService, as the aggregator publishes it. */
export interface AggregatedGroup {
  name: string;
  /** Versions in preference order. */
  versions: {
    version: string;
    /** The other server's aggregated-discovery resources for this version (v2 shape). */
    resources: unknown[];
    /** Stale when the other server could not be reached. */
    freshness: 'Current' | 'Stale';
  }[];
}

export class DiscoveryService {
  private groups: Map<string, GroupVersion[]> = new Map();
  private core: GroupVersion[] = [];
  private cache = new Map<string, CachedDocument>();
  private aggregatedGroups: AggregatedGroup[] = [];

  /** Replaces the groups published on behalf of other servers. */
  setAggregatedGroups(groups: AggregatedGroup[]): void {
    if (JSON.stringify(groups) === JSON.stringify(this.aggregatedGroups)) return;
    this.aggregatedGroups = groups;
    this.cache.clear();
  }

  constructor(defs: ResourceDefinition[]) {
    this.update(defs);
  }

  update(defs: ResourceDefinition[]): void {
    const byGV = new Map<string, GroupVersion>();
    for (const def of defs) {
      const key = `${def.group}/${def.version}`;
      let gv = byGV.get(key);
      if (!gv) byGV.set(key, (gv = { group: def.group, version: def.version, resources: [] }));
      gv.resources.push(def);
    }
    this.groups = new Map();
    this.core = [];
    for (const gv of byGV.values()) {
      gv.resources.sort((a, b) => a.plural.localeCompare(b.plural));
      if (gv.group === '') this.core.push(gv);
      else {
        const list = this.groups.get(gv.group) ?? [];
        list.push(gv);
        this.groups.set(gv.group, list);
      }
    }
    // Preferred (highest) version first, kube's version priority order.
    for (const list of this.groups.values()) list.sort((a, b) => compareKubeVersions(b.version, a.version));
    this.cache.clear();
  }

  private apiGroup(name: string, versions: GroupVersion[]): Record<string, unknown> {
    const vs = versions.map((v) => ({ groupVersion: `${name}/${v.version}`, version: v.version }));
    return { name, versions: vs, preferredVersion: vs[0] };
  }

  private aggregated(prefix: 'api' | 'apis', version: AggregatedVersion): Record<string, unknown> {
    const entries: [string, GroupVersion[]][] =
      prefix === 'api' ? (this.core.length ? [['', this.core]] : []) : [...this.groups.entries()];
    const items: unknown[] = entries.map(([name, versions]) => ({
      metadata: { name, creationTimestamp: null },
      versions: versions.map((v) => ({
        version: v.version,
        resources: v.resources.map(aggregatedResource),
        freshness: 'Current',
      })),
    }));
    if (prefix === 'apis') {
      for (const g of this.aggregatedGroups) {
        items.push({
          metadata: { name: g.name, creationTimestamp: null },
          versions: g.versions.map((v) => ({ version: v.version, resources: v.resources, freshness: v.freshness })),
        });
      }
    }
    return { kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {}, items };
  }

  private legacyGroups(): Record<string, unknown>[] {
    const own = [...this.groups.entries()].map(([name, vs]) => this.apiGroup(name, vs));
    const others = this.aggregatedGroups.map((g) => {
      const vs = g.versions.map((v) => ({ groupVersion: `${g.name}/${v.version}`, version: v.version }));
      return { name: g.name, versions: vs, preferredVersion: vs[0] };
    });
    return [...own, ...others];
  }

  private document(key: string, build: () => unknown): CachedDocument {
    let doc = this.cache.get(key);
    if (!doc) {
      const body = JSON.stringify(build());
      doc = { body, etag: `"${createHash('sha512').update(body).digest('hex').toUpperCase()}"` };
      this.cache.set(key, doc);
    }
    return doc;
  }

  private respond(req: IncomingMessage, res: ServerResponse, doc: CachedDocument, contentType: string): number {
    const headers = { 'Content-Type': contentType, ETag: doc.etag, Vary: 'Accept', 'Cache-Control': 'public' };
    if (notModified(req, doc.etag)) {
      res.writeHead(304, headers);
      res.end();
      return 304;
    }
    res.writeHead(200, { ...headers, 'Content-Length': Buffer.byteLength(doc.body) });
    res.end(req.method === 'HEAD' ? undefined : doc.body);
    return 200;
  }

  /** Serves a discovery path; returns the status code, or undefined if the path is not discovery. */
  handle(req: IncomingMessage, res: ServerResponse, segments: string[]): number | undefined {
    const [prefix, a, b] = segments;
    if (prefix === 'api' && segments.length === 1) {
      const format = discoveryFormat(req.headers.accept);
      if (format !== 'legacy') {
        return this.respond(
          req,
          res,
          this.document(`api:${format}`, () => this.aggregated('api', format)),
          aggregatedContentType(format),
        );
      }
      return this.respond(
        req,
        res,
        this.document('api', () => ({
          kind: 'APIVersions',
          versions: this.core.map((v) => v.version),
          serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '' }],
        })),
        'application/json',
      );
    }
    if (prefix === 'api' && segments.length === 2) {
      const gv = this.core.find((v) => v.version === a);
      if (!gv) throw pathNotFound();
      return this.respond(
        req,
        res,
        this.document(`api/${a}`, () => ({
          kind: 'APIResourceList',
          groupVersion: a,
          resources: apiResources(gv.resources),
        })),
        'application/json',
      );
    }
    if (prefix !== 'apis' || segments.length > 3) return undefined;
    if (segments.length === 1) {
      const format = discoveryFormat(req.headers.accept);
      if (format !== 'legacy') {
        return this.respond(
          req,
          res,
          this.document(`apis:${format}`, () => this.aggregated('apis', format)),
          aggregatedContentType(format),
        );
      }
      return this.respond(
        req,
        res,
        this.document('apis', () => ({ kind: 'APIGroupList', apiVersion: 'v1', groups: this.legacyGroups() })),
        'application/json',
      );
    }
    const versions = this.groups.get(a);
    if (!versions) {
      const other = this.aggregatedGroups.find((g) => g.name === a);
      if (other && segments.length === 2) {
        const vs = other.versions.map((v) => ({ groupVersion: `${a}/${v.version}`, version: v.version }));
        return this.respond(
          req,
          res,
          this.document(`apis/${a}`, () => ({
            kind: 'APIGroup',
            apiVersion: 'v1',
            name: a,
            versions: vs,
            preferredVersion: vs[0],
          })),
          'application/json',
        );
      }
      throw pathNotFound();
    }
    if (segments.length === 2) {
      return this.respond(
        req,
        res,
        this.document(`apis/${a}`, () => ({ kind: 'APIGroup', apiVersion: 'v1', ...this.apiGroup(a, versions) })),
        'application/json',
      );
    }
    const gv = versions.find((v) => v.version === b);
    if (!gv) throw pathNotFound();
    return this.respond(
      req,
      res,
      this.document(`apis/${a}/${b}`, () => ({
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: `${a}/${b}`,
        resources: apiResources(gv.resources),
      })),
      'application/json',
    );
  }
}

function aggregatedContentType(version: AggregatedVersion): string {
  return `application/json;g=apidiscovery.k8s.io;v=${version};as=APIGroupDiscoveryList`;
}

/** kube's version ordering: GA > beta > alpha, then by major and minor number. */
export function compareKubeVersions(a: string, b: string): number {
  const parse = (v: string): [number, number, number] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [-1, 0, 0];
    const stage = m[2] === 'alpha' ? 0 : m[2] === 'beta' ? 1 : 2;
    return [stage, Number(m[1]), Number(m[3] ?? 0)];
  };
  const [sa, ma, na] = parse(a);
  const [sb, mb, nb] = parse(b);
  return sa - sb || ma - mb || na - nb || a.localeCompare(b);
}
