// Every controller of UPM Engine on one manager: what `upm-engine controllers` and
// `upm-engine local` run.

import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { addCube } from './cube/index.js';
import { addKauntlet } from './kauntlet/index.js';
import type { UnitAddressing } from './kauntlet/shared/instances.js';
import { KubeClient } from './runtime/client.js';
import { Manager, type ManagerOptions } from './runtime/manager.js';

export interface ControllersOptions {
  kubeConfig: KubeConfig;
  log?: Logger;
  leaderElection: ManagerOptions['leaderElection'];
  probeAddress?: { host: string; port: number };
  onLeaderLost?: () => void;
  /** How Kauntlet reaches Unit-backed instances: cluster DNS (default) or Pod IPs (local mode). */
  unitAddressing?: UnitAddressing;
}

export interface RunningControllers {
  manager: Manager;
  stop(): Promise<void>;
}

export async function runControllers(o: ControllersOptions): Promise<RunningControllers> {
  const client = new KubeClient(o.kubeConfig, 'upm-engine-controllers');
  const manager = new Manager({
    client,
    log: o.log,
    leaderElection: o.leaderElection,
    probeAddress: o.probeAddress,
    onLeaderLost: o.onLeaderLost,
  });
  addCube(manager);
  addKauntlet(manager, { unitAddressing: o.unitAddressing });
  await manager.start();
  return {
    manager,
    async stop() {
      await manager.stop();
      client.close();
    },
  };
}
