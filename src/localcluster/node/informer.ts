// A list-and-watch cache of one kind (client-node's ListWatch) that restarts itself after watch
// errors and hands out plain JSON objects.

import {
  ListWatch,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';

type Obj = Record<string, any>;

export interface InformerHandlers {
  add?(obj: Obj): void;
  update?(obj: Obj): void;
  delete?(obj: Obj): void;
}

export class Informer {
  private lw: ListWatch<KubernetesObject> | undefined;
  private running = false;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly kc: KubeConfig,
    private readonly path: string,
    private readonly list: () => Promise<KubernetesListObject<KubernetesObject>>,
    private readonly handlers: InformerHandlers,
    private readonly opts: { fieldSelector?: string; labelSelector?: string; log?: Logger } = {},
  ) {}

  async start(): Promise<void> {
    this.running = true;
    const lw = new ListWatch<KubernetesObject>(
      this.path,
      new Watch(this.kc),
      this.list,
      false,
      this.opts.labelSelector,
      this.opts.fieldSelector,
    );
    const plain = (o: KubernetesObject) => JSON.parse(JSON.stringify(o)) as Obj;
    if (this.handlers.add) lw.on('add', (o) => this.handlers.add!(plain(o)));
    if (this.handlers.update) lw.on('update', (o) => this.handlers.update!(plain(o)));
    if (this.handlers.delete) lw.on('delete', (o) => this.handlers.delete!(plain(o)));
    lw.on('error', (err: unknown) => {
      if (!this.running) return;
      this.opts.log?.debug({ err, path: this.path }, 'watch ended, restarting');
      this.restartTimer = setTimeout(() => {
        if (this.running && this.lw === lw) void lw.start().catch(() => {});
      }, 500);
    });
    this.lw = lw;
    await lw.start();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const lw = this.lw;
    this.lw = undefined;
    await lw?.stop();
  }

  get(namespace: string, name: string): Obj | undefined {
    const o = this.lw?.get(name, namespace || undefined);
    return o ? (JSON.parse(JSON.stringify(o)) as Obj) : undefined;
  }

  items(namespace?: string): Obj[] {
    return (this.lw?.list(namespace) ?? []).map((o) => JSON.parse(JSON.stringify(o)) as Obj);
  }
}
