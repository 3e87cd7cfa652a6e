// Where an instance of a replication object is reached: a Unit in the same namespace or a
// host:port outside Kubernetes. Pure: the caller reads the Unit from its cache.

import type { Unit } from '../../../api/generated/types.js';

/** The instance fields every replication kind shares (see instanceSchema in api/replication.ts). */
export interface InstanceRef {
  name: string;
  unitRef?: { name: string };
  host?: string;
  port?: number;
}

/**
 * How the controller addresses Unit-backed instances. `dns`: the Unit's stable DNS name
 * (status.address), right for controllers inside the cluster. `podIP`: the Pod's address, for
 * controllers that cannot resolve cluster DNS (local mode, a controller outside the cluster).
 */
export type UnitAddressing = 'dns' | 'podIP';

export interface Endpoint {
  /** The instance name in spec. */
  name: string;
  host: string;
  port: number;
  /** The Unit running the instance, when it is Unit-backed; its Pod has the same name. */
  unit?: string;
}

export type Resolution =
  | { ok: true; endpoint: Endpoint }
  | { ok: false; name: string; reason: 'UnitNotFound' | 'UnitNotAddressable'; message: string };

export function resolveInstance(
  ref: InstanceRef,
  unit: Unit | undefined,
  defaultPort: number,
  addressing: UnitAddressing = 'dns',
): Resolution {
  const port = ref.port ?? defaultPort;
  if (!ref.unitRef) return { ok: true, endpoint: { name: ref.name, host: ref.host!, port } };
  const unitName = ref.unitRef.name;
  if (ref.host) return { ok: true, endpoint: { name: ref.name, host: ref.host, port, unit: unitName } };
  if (!unit) {
    return { ok: false, name: ref.name, reason: 'UnitNotFound', message: `Unit ${JSON.stringify(unitName)} not found` };
  }
  const host = addressing === 'podIP' ? unit.status?.podIP : unit.status?.address;
  if (!host) {
    const field = addressing === 'podIP' ? 'status.podIP' : 'status.address';
    return {
      ok: false,
      name: ref.name,
      reason: 'UnitNotAddressable',
      message: `Unit ${JSON.stringify(unitName)} has no ${field} yet`,
    };
  }
  return { ok: true, endpoint: { name: ref.name, host, port, unit: unitName } };
}

export const addressOf = (e: Pick<Endpoint, 'host' | 'port'>): string =>
  e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
