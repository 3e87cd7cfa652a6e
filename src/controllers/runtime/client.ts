// The controllers' API client: @kubernetes/client-node's KubeConfig for the server, credentials and
// TLS (so a kubeconfig, in-cluster config or local mode work alike), plain node:https for requests
// (one keep-alive agent, explicit content types and timeouts), client-node's Watch for streams.
// Failures are ApiErrors: `code` and the Status `body`, which machinery's isNotFound & co. read.

import https from 'node:https';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { jsonEqual, type KubeObject } from '../../machinery/object.js';
import type { Status } from '../../machinery/errors.js';

/** A resource as the API serves it (kube's GroupVersionResource plus what paths need). */
export interface ResourceType {
  group: string;
  version: string;
  /** Plural resource name, e.g. `unitsets`. */
  resource: string;
  kind: string;
  namespaced: boolean;
}

export const apiVersionOf = (t: Pick<ResourceType, 'group' | 'version'>): string =>
  t.group ? `${t.group}/${t.version}` : t.version;

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly body: Partial<Status> | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type PatchType = 'apply' | 'merge' | 'json' | 'strategic';
const patchContentType: Record<PatchType, string> = {
  apply: 'application/apply-patch+yaml',
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** Default 30 s; a hung request must not hold a worker (or cost a Lease) forever. */
  timeoutMs?: number;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  limit?: number;
  continue?: string;
}

export interface ObjectList {
  metadata: { resourceVersion?: string; continue?: string };
  items: KubeObject[];
}

/** Loads the kubeconfig the way controller-runtime does: the flag, $KUBECONFIG, in-cluster, ~/.kube/config. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else if (process.env['KUBECONFIG']) kc.loadFromDefault();
  else if (process.env['KUBERNETES_SERVICE_HOST']) kc.loadFromCluster();
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) throw new Error('no cluster in the kubeconfig');
  return kc;
}

export class KubeClient {
  private agent = new https.Agent({ keepAlive: true, maxSockets: 32 });
  private readonly server: URL;

  constructor(
    readonly kubeConfig: KubeConfig,
    /** Sent as User-Agent; kube records it as the default field manager. */
    readonly userAgent = 'upm-engine-controllers',
  ) {
    this.server = new URL(kubeConfig.getCurrentCluster()!.server);
  }

  /** `/api/v1/namespaces/ns/pods/name/status` and the like. */
  path(type: ResourceType, namespace?: string, name?: string, subresource?: string): string {
    let p = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
    if (type.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
    p += `/${type.resource}`;
    if (name !== undefined) p += `/${encodeURIComponent(name)}`;
    if (subresource) p += `/${subresource}`;
    return p;
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = new URL(path, this.server);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const body = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const reqOpts: https.RequestOptions = {
      method,
      agent: this.agent,
      headers: {
        Accept: 'application/json',
        'User-Agent': this.userAgent,
        ...(body ? { 'Content-Type': opts.contentType ?? 'application/json', 'Content-Length': body.length } : {}),
      },
    };
    await this.kubeConfig.applyToHTTPSOptions(reqOpts);
    reqOpts.agent = this.agent;
    return new Promise<T>((resolve, reject) => {
      const req = https.request(url, reqOpts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) return resolve(parsed as T);
          const status = (parsed ?? {}) as Partial<Status>;
          reject(
            new ApiError(code, status, `${method} ${url.pathname}: ${code} ${status.message ?? text.slice(0, 200)}`),
          );
        });
      });
      req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`${method} ${url.pathname}: timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  get(type: ResourceType, namespace: string | undefined, name: string): Promise<KubeObject> {
    return this.request('GET', this.path(type, namespace, name));
  }

  list(type: ResourceType, namespace: string | undefined, opts: ListOptions = {}): Promise<ObjectList> {
    return this.request('GET', this.path(type, namespace), { query: { ...opts } });
  }

  create(type: ResourceType, obj: KubeObject, fieldManager?: string): Promise<KubeObject> {
    return this.request('POST', this.path(type, obj.metadata.namespace), { body: obj, query: { fieldManager } });
  }

  /**
   * Server-side apply of `obj` as `fieldManager`'s whole intent (force: controllers own what they apply).
   * With `subresource: 'status'` only the status is applied.
   */
  apply(
    type: ResourceType,
    obj: KubeObject,
    fieldManager: string,
    opts: { subresource?: 'status'; force?: boolean } = {},
  ): Promise<KubeObject> {
    const path = this.path(type, obj.metadata.namespace, obj.metadata.name, opts.subresource);
    return this.request('PATCH', path, {
      body: obj,
      contentType: patchContentType.apply,
      query: { fieldManager, force: opts.force ?? true },
    });
  }

  /**
   * Server-side apply of `status` as `object`'s whole status owned by `fieldManager`, through the
   * status subresource; nothing is sent when the object already has exactly that status.
   */
  async applyStatus(
    type: ResourceType,
    object: Pick<KubeObject, 'metadata'> & { status?: unknown },
    status: unknown,
    fieldManager: string,
  ): Promise<void> {
    if (jsonEqual(status, object.status ?? {})) return;
    await this.apply(
      type,
      {
        apiVersion: apiVersionOf(type),
        kind: type.kind,
        metadata: { name: object.metadata.name, namespace: object.metadata.namespace },
        status,
      } as KubeObject,
      fieldManager,
      { subresource: 'status' },
    );
  }

  patch(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    patchType: PatchType,
    opts: { subresource?: string; fieldManager?: string } = {},
  ): Promise<KubeObject> {
    return this.request('PATCH', this.path(type, namespace, name, opts.subresource), {
      body,
      contentType: patchContentType[patchType],
      query: { fieldManager: opts.fieldManager },
    });
  }

  replace(type: ResourceType, obj: KubeObject, subresource?: string): Promise<KubeObject> {
    return this.request('PUT', this.path(type, obj.metadata.namespace, obj.metadata.name, subresource), {
      body: obj,
    });
  }

  delete(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    opts: { propagationPolicy?: 'Background' | 'Foreground' | 'Orphan'; uid?: string; resourceVersion?: string } = {},
  ): Promise<unknown> {
    const preconditions =
      opts.uid || opts.resourceVersion ? { uid: opts.uid, resourceVersion: opts.resourceVersion } : undefined;
    return this.request('DELETE', this.path(type, namespace, name), {
      body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: opts.propagationPolicy, preconditions },
    });
  }

  /** Opens a watch stream; `done` is called once when it ends for any reason (abort included). */
  watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (type: string, object: KubeObject) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return new Watch(this.kubeConfig).watch(path, query, (type, obj) => onEvent(type, obj as KubeObject), done);
  }

  /** Drops every kept-alive connection, so the next requests open new ones (after a connection
   * went silent: a request on it would hang until its timeout). */
  dropConnections(): void {
    const old = this.agent;
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 32 });
    old.destroy();
  }

  close(): void {
    this.agent.destroy();
  }
}
