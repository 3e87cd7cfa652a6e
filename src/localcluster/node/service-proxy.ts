// A userspace kube-proxy: every TCP port of a Service whose ClusterIP is a loopback address is
// served on that address and forwarded to the Service's ready endpoints that run on this machine
// (loopback addresses; simulated Pods' lead nowhere) (round robin; serving
// terminating ones when none is ready, as kube-proxy does since KEP-1669). A port with no endpoint
// is not listened on, so clients get "connection refused" as with kube-proxy's reject rule.
// Established connections stay when an endpoint goes away.

import { createServer, connect, type Server, type Socket } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { loadKubeConfig, type KubeconfigSource } from '../kubeclient/index.js';
import { makeClients, type Clients } from './client.js';
import { serviceNameLabel } from './endpointslices.js';
import { Informer } from './informer.js';

type Obj = Record<string, any>;

interface Backend {
  ip: string;
  port: number;
}

interface Listener {
  server: Server;
  backends: Backend[];
  next: number;
  connections: Set<Socket>;
}

export interface ServiceProxyOptions {
  kubeconfig: KubeconfigSource;
  logger: Logger;
}

/** The backends of one Service port from its slices. */
export function backendsOf(slices: Obj[], portName: string): Backend[] {
  const pick = (want: (c: Obj) => boolean) => {
    const out: Backend[] = [];
    for (const slice of slices) {
      const port = ((slice['ports'] ?? []) as Obj[]).find((p) => (p['name'] ?? '') === portName);
      if (!port?.port) continue;
      for (const e of (slice['endpoints'] ?? []) as Obj[])
        if (want(e['conditions'] ?? {}))
          for (const ip of (e['addresses'] ?? []) as string[])
            // Simulated Pods' addresses lead nowhere on this machine.
            if (ip.startsWith('127.')) out.push({ ip, port: Number(port.port) });
    }
    return out;
  };
  const ready = pick((c) => c['ready'] !== false);
  return ready.length > 0 ? ready : pick((c) => c['serving'] === true && c['terminating'] === true);
}

export class ServiceProxy {
  private readonly kc: KubeConfig;
  private readonly clients: Clients;
  private services!: Informer;
  private slices!: Informer;
  private readonly listeners = new Map<string, Listener>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private syncing: Promise<void> = Promise.resolve();

  constructor(private readonly o: ServiceProxyOptions) {
    this.kc = loadKubeConfig(o.kubeconfig);
    this.clients = makeClients(this.kc);
  }

  async start(): Promise<void> {
    this.running = true;
    const poke = { add: () => this.poke(), update: () => this.poke(), delete: () => this.poke() };
    this.services = new Informer(
      this.kc,
      '/api/v1/services',
      () => this.clients.core.listServiceForAllNamespaces(),
      poke,
      {
        log: this.o.logger,
      },
    );
    this.slices = new Informer(
      this.kc,
      '/apis/discovery.k8s.io/v1/endpointslices',
      () => this.clients.discovery.listEndpointSliceForAllNamespaces(),
      poke,
      { log: this.o.logger },
    );
    await Promise.all([this.services.start(), this.slices.start()]);
    await this.sync();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await Promise.all([this.services?.stop(), this.slices?.stop()]);
    await this.syncing;
    await Promise.all([...this.listeners.keys()].map((k) => this.close(k)));
    this.clients.close();
  }

  /** `ip:port` → backends, for tests and status. */
  routes(): Map<string, Backend[]> {
    return new Map([...this.listeners].map(([k, l]) => [k, l.backends]));
  }

  private poke(): void {
    if (!this.running) return;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.syncing = this.syncing
        .then(() => this.sync())
        .catch((err: unknown) => {
          this.o.logger.warn({ err }, 'service proxy: sync failed');
        });
    }, 10);
  }

  private async sync(): Promise<void> {
    const wanted = new Map<string, Backend[]>();
    for (const svc of this.services.items()) {
      const spec = svc['spec'] ?? {};
      const ip = spec.clusterIP;
      if (typeof ip !== 'string' || !ip.startsWith('127.')) continue;
      const ns = svc['metadata'].namespace;
      const slices = this.slices
        .items(ns)
        .filter((s) => s['metadata']?.labels?.[serviceNameLabel] === svc['metadata'].name);
      for (const p of (spec.ports ?? []) as Obj[]) {
        if ((p['protocol'] ?? 'TCP') !== 'TCP') continue;
        const backends = backendsOf(slices, String(p['name'] ?? ''));
        if (backends.length > 0) wanted.set(`${ip}:${p['port']}`, backends);
      }
    }
    for (const key of [...this.listeners.keys()]) if (!wanted.has(key)) await this.close(key);
    for (const [key, backends] of wanted) {
      const existing = this.listeners.get(key);
      if (existing) {
        existing.backends = backends;
        continue;
      }
      await this.listen(key, backends);
    }
  }

  private async listen(key: string, backends: Backend[]): Promise<void> {
    const colon = key.lastIndexOf(':');
    const ip = key.slice(0, colon);
    const port = Number(key.slice(colon + 1));
    const listener: Listener = { server: createServer(), backends, next: 0, connections: new Set() };
    listener.server.on('connection', (client) => this.forward(listener, client));
    this.listeners.set(key, listener);
    try {
      await new Promise<void>((resolve, reject) => {
        listener.server.once('error', reject);
        listener.server.listen(port, ip, () => resolve());
      });
    } catch (err) {
      this.listeners.delete(key);
      this.o.logger.warn({ err, address: key }, 'service proxy: cannot listen on the ClusterIP');
    }
  }

  private forward(l: Listener, client: Socket): void {
    const backend = l.backends[l.next++ % Math.max(1, l.backends.length)];
    if (!backend) {
      client.destroy();
      return;
    }
    const upstream = connect({ host: backend.ip, port: backend.port });
    l.connections.add(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      l.connections.delete(client);
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private async close(key: string): Promise<void> {
    const l = this.listeners.get(key);
    if (!l) return;
    this.listeners.delete(key);
    await new Promise<void>((r) => l.server.close(() => r()));
    if (!this.running) for (const c of l.connections) c.destroy();
  }
}
