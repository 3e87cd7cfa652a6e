// Units run as real processes in local mode, for the e2e tests of the replication controllers:
// `upm-engine local` with its controllers and node runtime (Pod IPs and ClusterIPs on loopback
// ranges of their own), a UnitSet from an example template, and the process behind a container.
// The node runtime needs root on Linux: describeIfRoot skips the suite elsewhere.

import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, startEngine, waitFor, type Engine } from './harness.js';

export const describeIfRoot = process.platform === 'linux' && process.getuid?.() === 0 ? describe : describe.skip;

export function startUnitsEngine(): Promise<Engine> {
  return startEngine({
    controllers: true,
    extraArgs: ['--pod-cidr', '127.82.0.0/16', '--service-cluster-ip-range', '127.114.0.0/16'],
  });
}

export interface UnitSetSpec {
  name: string;
  type: 'mariadb' | 'redis';
  /** The community template of this version, from examples/unittemplates/. */
  version: string;
  units: number;
  limits: { cpu: string; memory: string };
  /** Template parameters (spec.config.parameters). */
  parameters?: Record<string, string>;
}

/**
 * Applies the template and a UnitSet with a 1Gi `data` volume, waits until all its Units are
 * Ready, and returns the password of its admin credential (Secret `<name>-admin`).
 */
export async function createUnitSet(engine: Engine, s: UnitSetSpec, timeoutMs: number): Promise<string> {
  const kubectl = async (args: string[], input?: string) => {
    const r = await engine.kubectl('1.33', args, input === undefined ? {} : { input });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
    return r.stdout;
  };
  const get = async (...args: string[]) => JSON.parse(await kubectl(['get', ...args, '-o', 'json']));
  await kubectl(['apply', '-f', join(repoRoot, `examples/unittemplates/${s.type}-community-${s.version}.yaml`)]);
  const unitSet = {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'UnitSet',
    metadata: { name: s.name, namespace: 'default' },
    spec: {
      type: s.type,
      version: s.version,
      units: s.units,
      resources: { limits: s.limits },
      storage: { volumes: [{ name: 'data', size: '1Gi' }] },
      ...(s.parameters ? { config: { parameters: s.parameters } } : {}),
    },
  };
  await kubectl(['apply', '-f', '-'], JSON.stringify(unitSet));
  await waitFor(
    `${s.units} Units of ${s.name} ready`,
    async () => (await get('unitset', s.name).catch(() => ({})))['status']?.readyUnits === s.units,
    timeoutMs,
  );
  const secret = await get('secret', `${s.name}-admin`);
  return Buffer.from(secret['data'].password, 'base64').toString('utf8');
}

/** The pid of the process running container `container` of the Pod with `podUID` (its root is the container's). */
export function containerPid(engine: Engine, podUID: string, container: string): number | undefined {
  const prefix = join(engine.dataDir, 'node', 'pods', podUID, 'containers', container);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/root`).startsWith(prefix)) return Number(entry);
    } catch {
      // gone
    }
  }
  return undefined;
}
