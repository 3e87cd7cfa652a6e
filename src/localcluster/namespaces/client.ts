// The namespace controller's view of the API: discovery of every served group (aggregated ones
// included, through the control plane's aggregation layer) and the metadata verbs it needs, over
// HTTPS as kube-controller-manager's discovery and metadata clients use them.

import { Agent, request } from 'node:https';

/** A namespaced resource the controller empties: where it lives and what it allows. */
export interface ContentResource {
  group: string;
  version: string;
  /** Plural name. */
  resource: string;
  verbs: string[];
}

export interface ContentObject {
  name: string;
  finalizers: string[];
}

export interface Discovery {
  resources: ContentResource[];
  /** `<group>/<version>: <why>` for every group version whose resources could not be read. */
  failures: string[];
}

/** What the namespace controller asks of the cluster. */
export interface ContentClient {
  discover(): Promise<Discovery>;
  deleteCollection(r: ContentResource, namespace: string): Promise<void>;
  delete(r: ContentResource, namespace: string, name: string): Promise<void>;
  list(r: ContentResource, namespace: string): Promise<ContentObject[]>;
}

export class APIError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ClientCredentials {
  server: string;
  caPem: string;
  certPem: string;
  keyPem: string;
}

const metadataListAccept =
  'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1beta1,application/json';

type Obj = Record<string, unknown>;

function basePath(group: string, version: string): string {
  return group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
}

function collectionPath(r: ContentResource, namespace: string): string {
  return `${basePath(r.group, r.version)}/namespaces/${encodeURIComponent(namespace)}/${r.resource}`;
}

/** The metadata client and discovery client over HTTPS with a client certificate. */
export class HTTPContentClient implements ContentClient {
  private readonly agent: Agent;
  private readonly url: URL;

  constructor(creds: ClientCredentials) {
    this.url = new URL(creds.server);
    this.agent = new Agent({ keepAlive: true, ca: creds.caPem, cert: creds.certPem, key: creds.keyPem });
  }

  close(): void {
    this.agent.destroy();
  }

  private call(method: string, path: string, body?: unknown, accept = 'application/json'): Promise<Obj> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.url.hostname,
          port: this.url.port,
          method,
          path,
          agent: this.agent,
          headers: {
            Accept: accept,
            'User-Agent': 'namespace-controller',
            ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: Obj = {};
            try {
              parsed = text ? (JSON.parse(text) as Obj) : {};
            } catch {
              parsed = {};
            }
            const code = res.statusCode ?? 0;
            if (code >= 200 && code < 300) resolve(parsed);
            else reject(new APIError(code, typeof parsed['message'] === 'string' ? parsed['message'] : `HTTP ${code}`));
          });
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error('timeout after 30 s')));
      req.on('error', reject);
      req.end(payload);
    });
  }

  async discover(): Promise<Discovery> {
    const groupVersions: { group: string; version: string }[] = [{ group: '', version: 'v1' }];
    const groups = await this.call('GET', '/apis');
    for (const g of Array.isArray(groups['groups']) ? (groups['groups'] as Obj[]) : []) {
      const preferred = g['preferredVersion'] as Obj | undefined;
      const version = typeof preferred?.['version'] === 'string' ? preferred['version'] : undefined;
      if (typeof g['name'] === 'string' && version) groupVersions.push({ group: g['name'], version });
    }
    const resources: ContentResource[] = [];
    const failures: string[] = [];
    await Promise.all(
      groupVersions.map(async ({ group, version }) => {
        try {
          const list = await this.call('GET', basePath(group, version));
          for (const r of Array.isArray(list['resources']) ? (list['resources'] as Obj[]) : []) {
            const name = r['name'];
            if (typeof name !== 'string' || name.includes('/') || r['namespaced'] !== true) continue;
            const verbs = Array.isArray(r['verbs']) ? r['verbs'].filter((v): v is string => typeof v === 'string') : [];
            resources.push({ group, version, resource: name, verbs });
          }
        } catch (err) {
          failures.push(`${group ? `${group}/` : ''}${version}: ${(err as Error).message}`);
        }
      }),
    );
    return { resources, failures: failures.sort() };
  }

  async deleteCollection(r: ContentResource, namespace: string): Promise<void> {
    await this.call('DELETE', collectionPath(r, namespace), {
      kind: 'DeleteOptions',
      apiVersion: 'v1',
      propagationPolicy: 'Background',
    });
  }

  async delete(r: ContentResource, namespace: string, name: string): Promise<void> {
    try {
      await this.call('DELETE', `${collectionPath(r, namespace)}/${encodeURIComponent(name)}`, {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        propagationPolicy: 'Background',
      });
    } catch (err) {
      if (!(err instanceof APIError && err.code === 404)) throw err;
    }
  }

  async list(r: ContentResource, namespace: string): Promise<ContentObject[]> {
    const list = await this.call('GET', collectionPath(r, namespace), undefined, metadataListAccept);
    return (Array.isArray(list['items']) ? (list['items'] as Obj[]) : []).map((item) => {
      const meta = (item['metadata'] ?? {}) as Obj;
      const finalizers = Array.isArray(meta['finalizers']) ? meta['finalizers'] : [];
      return {
        name: String(meta['name'] ?? ''),
        finalizers: finalizers.filter((f): f is string => typeof f === 'string'),
      };
    });
  }
}
