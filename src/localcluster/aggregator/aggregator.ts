// The aggregation layer of the local control plane (kube-aggregator's role): for every
// APIService backed by a Service it checks availability, publishes the backend's discovery and
// OpenAPI in ours, writes the APIService's Available condition, and proxies its group-version
// (watches included) to the backend with the caller's identity in X-Remote-* headers.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'node:https';
import type { Logger } from 'pino';
import { isNotFound, serviceUnavailable } from '../../machinery/errors.js';
import { writeError } from '../../apiserver/endpoints/http.js';
import type { RequestInfo } from '../../apiserver/endpoints/requestinfo.js';
import type { DiscoveryService, AggregatedGroup } from '../../apiserver/discovery/discovery.js';
import type { OpenAPIService } from '../../apiserver/openapi/handlers.js';
import type { KubeObject } from '../../machinery/object.js';
import type { ResourceStore } from '../../apiserver/registry/store.js';
import type { RegistryWatch } from '../../apiserver/storage/interface.js';
import type { RequestDelegate } from '../../apiserver/server.js';
import { Backend, identityHeaders, type Caller, type FrontProxyIdentity } from './backend.js';
import { setCondition, type Condition } from '../../machinery/conditions.js';

/** Maps a Service to an address this process can dial (no cluster network here). */
export type ServiceResolver = (
  namespace: string,
  name: string,
  port: number,
) => { host: string; port: number } | undefined;

interface APIServiceSpec {
  group?: string;
  version?: string;
  service?: { namespace?: string; name?: string; port?: number } | null;
  caBundle?: string;
  insecureSkipTLSVerify?: boolean;
  groupPriorityMinimum?: number;
  versionPriority?: number;
}

interface Registration {
  name: string;
  spec: APIServiceSpec;
  backend?: Backend;
  available: boolean;
  reason: string;
  message: string;
  resources: unknown[];
  v3Paths: Record<string, { serverRelativeURL: string }>;
  v2?: Record<string, unknown>;
}

const aggregatedAccept = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
const kubeAggregator: Caller = { username: 'system:kube-aggregator', groups: ['system:masters'] };
const openAPIAggregator: Caller = { username: 'system:aggregator', groups: [] };
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'authorization',
]);

export interface AggregatorOptions {
  apiServices: ResourceStore;
  discovery: DiscoveryService;
  openapi: OpenAPIService;
  frontProxy: FrontProxyIdentity;
  resolveService: ServiceResolver;
  log: Logger;
  /** How often availability and documents are refreshed (kube: about every 30 s / 1 min). */
  resyncMs?: number;
}

export class Aggregator implements RequestDelegate {
  private readonly registrations = new Map<string, Registration>();
  private watch?: RegistryWatch;
  private timer?: NodeJS.Timeout;
  private syncing = Promise.resolve();

  constructor(private readonly opts: AggregatorOptions) {}

  async start(): Promise<void> {
    this.watch = await this.opts.apiServices.watch(
      undefined,
      {},
      {
        event: (type, obj) => {
          if (type === 'DELETED') this.forget(obj.metadata.name ?? '');
          else if (type === 'ADDED' || type === 'MODIFIED') this.observe(obj);
        },
        error: (err) => this.opts.log.warn({ err }, 'APIService watch ended'),
      },
    );
    this.timer = setInterval(() => void this.syncAll(), this.opts.resyncMs ?? 30_000);
    this.timer.unref();
    await this.syncAll();
  }

  stop(): void {
    this.watch?.stop();
    clearInterval(this.timer);
    for (const r of this.registrations.values()) r.backend?.close();
  }

  /** Resolves when every APIService has been checked once since the call. */
  syncAll(): Promise<void> {
    this.syncing = this.syncing.then(async () => {
      for (const r of [...this.registrations.values()])
        await this.sync(r).catch((err: unknown) =>
          this.opts.log.warn({ err, apiservice: r.name }, 'APIService sync failed'),
        );
      this.publish();
    });
    return this.syncing;
  }

  private observe(obj: KubeObject): void {
    const name = obj.metadata.name ?? '';
    const spec = (obj['spec'] ?? {}) as APIServiceSpec;
    const existing = this.registrations.get(name);
    if (existing && JSON.stringify(existing.spec) === JSON.stringify(spec)) return;
    existing?.backend?.close();
    if (!spec.service?.name) {
      // A local APIService: this server serves the group itself.
      this.registrations.delete(name);
      return;
    }
    this.registrations.set(name, {
      name,
      spec,
      available: false,
      reason: 'Pending',
      message: 'not checked yet',
      resources: [],
      v3Paths: {},
    });
    void this.syncAll();
  }

  private forget(name: string): void {
    this.registrations.get(name)?.backend?.close();
    this.registrations.delete(name);
    this.publish();
  }

  private backendFor(r: Registration): Backend | undefined {
    if (r.backend) return r.backend;
    const svc = r.spec.service!;
    const namespace = svc.namespace ?? 'default';
    const port = svc.port ?? 443;
    const address = this.opts.resolveService(namespace, svc.name!, port);
    if (!address) return undefined;
    const caPem = r.spec.caBundle ? Buffer.from(r.spec.caBundle, 'base64').toString('utf8') : undefined;
    r.backend = new Backend(
      {
        ...address,
        servername: `${svc.name}.${namespace}.svc`,
        caPem: r.spec.insecureSkipTLSVerify ? undefined : caPem,
      },
      this.opts.frontProxy,
    );
    return r.backend;
  }

  private async sync(r: Registration): Promise<void> {
    const { group, version } = r.spec;
    const backend = this.backendFor(r);
    if (!backend) {
      this.setCondition(
        r,
        false,
        'ServiceNotFound',
        `service/${r.spec.service?.name} in "${r.spec.service?.namespace}" is not present`,
      );
    } else {
      try {
        const probe = await backend.fetch(`/apis/${group}/${version}`, kubeAggregator, 'application/json');
        if (probe.status >= 200 && probe.status < 400) {
          this.setCondition(r, true, 'Passed', 'all checks passed');
          await this.fetchDocuments(r, backend);
        } else {
          this.setCondition(
            r,
            false,
            'FailedDiscoveryCheck',
            `failing or missing response from ${this.url(r)}/apis/${group}/${version}: bad status from ${this.url(r)}/apis/${group}/${version}: ${probe.status}`,
          );
        }
      } catch (err) {
        this.setCondition(
          r,
          false,
          'FailedDiscoveryCheck',
          `failing or missing response from ${this.url(r)}/apis/${group}/${version}: ${(err as Error).message}`,
        );
      }
    }
    await this.writeStatus(r);
  }

  private url(r: Registration): string {
    const t = r.backend?.target;
    return t ? `https://${t.host}:${t.port}` : '';
  }

  private async fetchDocuments(r: Registration, backend: Backend): Promise<void> {
    const { group, version } = r.spec;
    const discovery = await backend.fetch('/apis', kubeAggregator, aggregatedAccept);
    if (discovery.status === 200) {
      const doc = JSON.parse(discovery.body.toString('utf8')) as {
        items?: { metadata?: { name?: string }; versions?: { version: string; resources?: unknown[] }[] }[];
      };
      const item = doc.items?.find((i) => i.metadata?.name === group);
      r.resources = item?.versions?.find((v) => v.version === version)?.resources ?? [];
    }
    const v3 = await backend.fetch('/openapi/v3', openAPIAggregator, 'application/json');
    if (v3.status === 200) {
      const root = JSON.parse(v3.body.toString('utf8')) as { paths?: Record<string, { serverRelativeURL: string }> };
      const key = `apis/${group}/${version}`;
      r.v3Paths = root.paths?.[key] ? { [key]: root.paths[key] } : {};
    }
    const v2 = await backend.fetch('/openapi/v2', openAPIAggregator, 'application/json');
    if (v2.status === 200) {
      const doc = JSON.parse(v2.body.toString('utf8')) as Record<string, unknown>;
      const prefix = `/apis/${group}/${version}/`;
      const paths = Object.fromEntries(
        Object.entries((doc['paths'] as Record<string, unknown>) ?? {}).filter(([p]) => p.startsWith(prefix)),
      );
      r.v2 = { ...doc, paths };
    }
  }

  private setCondition(r: Registration, available: boolean, reason: string, message: string): void {
    r.available = available;
    r.reason = reason;
    r.message = message;
  }

  private async writeStatus(r: Registration): Promise<void> {
    const status = r.available ? 'True' : 'False';
    try {
      await this.opts.apiServices.guaranteedUpdate(
        '',
        r.name,
        (current) => {
          const before = (current['status'] as { conditions?: Condition[] } | undefined)?.conditions;
          const next = { type: 'Available', status, reason: r.reason, message: r.message };
          const { conditions, changed } = setCondition(before, next);
          if (!changed) return current;
          current['status'] = { ...((current['status'] as object) ?? {}), conditions };
          delete current.metadata.resourceVersion;
          return current;
        },
        { subresource: 'status' },
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** Publishes the available backends' groups and documents in our discovery and OpenAPI. */
  private publish(): void {
    const byGroup = new Map<
      string,
      { priority: number; versions: { versionPriority: number; entry: AggregatedGroup['versions'][number] }[] }
    >();
    const v3Paths: Record<string, { serverRelativeURL: string }> = {};
    const v2Documents: Record<string, unknown>[] = [];
    for (const r of this.registrations.values()) {
      const group = r.spec.group ?? '';
      const g = byGroup.get(group) ?? { priority: r.spec.groupPriorityMinimum ?? 1000, versions: [] };
      g.versions.push({
        versionPriority: r.spec.versionPriority ?? 100,
        entry: { version: r.spec.version ?? '', resources: r.resources, freshness: r.available ? 'Current' : 'Stale' },
      });
      byGroup.set(group, g);
      if (r.available) {
        Object.assign(v3Paths, r.v3Paths);
        if (r.v2) v2Documents.push(r.v2);
      }
    }
    const groups = [...byGroup.entries()]
      .sort((a, b) => b[1].priority - a[1].priority || a[0].localeCompare(b[0]))
      .map(([name, g]) => ({
        name,
        versions: g.versions.sort((a, b) => b.versionPriority - a.versionPriority).map((v) => v.entry),
      }));
    this.opts.discovery.setAggregatedGroups(groups);
    this.opts.openapi.setAggregated({ v3Paths, v2Documents });
  }

  private route(info: RequestInfo, path: string): Registration | undefined {
    let group: string | undefined;
    let version: string | undefined;
    const v3 = /^\/openapi\/v3\/apis\/([^/]+)\/([^/]+)$/.exec(path);
    if (v3) [, group, version] = v3;
    else if (info.apiPrefix === 'apis' && info.apiVersion) {
      group = info.apiGroup;
      version = info.apiVersion;
    }
    if (!group || !version) return undefined;
    for (const r of this.registrations.values()) if (r.spec.group === group && r.spec.version === version) return r;
    return undefined;
  }

  async handle(req: IncomingMessage, res: ServerResponse, info: RequestInfo, url: URL): Promise<boolean> {
    const r = this.route(info, url.pathname);
    if (!r) return false;
    if (!r.available || !r.backend) {
      writeError(res, serviceUnavailable('service unavailable'));
      return true;
    }
    this.proxy(req, res, r.backend, url);
    return true;
  }

  private proxy(req: IncomingMessage, res: ServerResponse, backend: Backend, url: URL): void {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headersDistinct)) {
      if (!value || hopByHop.has(name) || name.startsWith('x-remote-') || name.startsWith('impersonate-')) continue;
      headers[name] = value.length === 1 ? value[0] : value;
    }
    const user = req.user!;
    Object.assign(headers, identityHeaders(user));
    const upstream = request(backend.requestOptions(req.method ?? 'GET', url.pathname + url.search, headers), (up) => {
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(up.headersDistinct)) {
        if (!value || hopByHop.has(name)) continue;
        out[name] = value.length === 1 ? value[0] : value;
      }
      res.writeHead(up.statusCode ?? 502, out);
      res.flushHeaders();
      up.pipe(res);
      up.on('error', () => res.destroy());
    });
    upstream.on('error', (err) => {
      if (!res.headersSent) writeError(res, serviceUnavailable(`error trying to reach service: ${err.message}`));
      else res.destroy();
    });
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  }
}
