// `upm-engine controllers`: Tesseract Cube (and the controllers to come) against any API server
// given by a kubeconfig, with leader election so that several replicas can run.

import { hostname } from 'node:os';
import { loadKubeConfig } from '../controllers/runtime/client.js';
import type { UnitAddressing } from '../controllers/kauntlet/shared/instances.js';
import { runControllers } from '../controllers/run.js';
import type { Command, CommonOptions } from './command.js';
import { defineFlags } from './flags.js';
import { createLogger, loggingFlags, loggingOptions, validateLogging } from './logger.js';

const flags = defineFlags({
  kubeconfig: {
    type: 'string',
    value: 'path',
    usage: 'kubeconfig of the cluster (default: $KUBECONFIG, in a pod its service account, else ~/.kube/config)',
  },
  'leader-elect': { type: 'bool', default: 'true', usage: 'elect a leader among replicas on a Lease' },
  'leader-election-namespace': { type: 'string', default: 'upm-system', usage: 'namespace of the Lease' },
  'leader-election-id': { type: 'string', default: 'upm-engine-controllers', usage: 'name of the Lease' },
  'leader-elect-lease-duration': {
    type: 'duration',
    default: '15s',
    usage: 'how long standbys wait after the last renewal they saw before taking over',
  },
  'leader-elect-renew-deadline': {
    type: 'duration',
    default: '10s',
    usage: 'how long the leader keeps trying to renew before it gives up leading',
  },
  'leader-elect-retry-period': {
    type: 'duration',
    default: '2s',
    usage: 'how often candidates try to acquire or renew',
  },
  'health-probe-bind-address': {
    type: 'string',
    value: 'host:port',
    default: ':8081',
    usage: "address of /healthz, /readyz and /metrics; '0' serves none",
  },
  'unit-addressing': {
    type: 'string',
    default: 'dns',
    value: 'dns|podIP',
    usage:
      "how replication controllers reach Unit-backed instances: the Unit's DNS name, or its Pod IP where cluster DNS does not resolve",
  },
  ...loggingFlags,
});

export interface ControllersCommandOptions extends CommonOptions {
  kubeconfig?: string;
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName: string;
  leaseTimings: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
  /** Where /healthz, /readyz and /metrics are served: undefined for nowhere, 'invalid' fails validation. */
  probeAddress: ReturnType<typeof parseBindAddress>;
  probeAddressText: string;
  unitAddressing: string;
}

/** `:8081`, `127.0.0.1:8081`, `[::1]:8081`; '0' for none. */
export function parseBindAddress(text: string): { host: string; port: number } | undefined | 'invalid' {
  if (text === '0') return undefined;
  const m = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(text);
  if (!m || Number(m[2]) > 65535) return 'invalid';
  return { host: m[1].replace(/^\[|\]$/g, '') || '0.0.0.0', port: Number(m[2]) };
}

export const controllersCommand: Command<typeof flags, ControllersCommandOptions> = {
  name: 'controllers',
  summary: 'run the controllers (Tesseract Cube) against a cluster',
  description: `Runs the UPM Engine controllers against the API server of a kubeconfig: the UnitSet and Unit
controllers of Tesseract Cube. With --leader-elect (the default) replicas elect one leader on a
coordination.k8s.io Lease; the others wait, warm, and take over when it stops renewing.`,
  flags,
  toOptions(f) {
    return {
      kubeconfig: f.kubeconfig,
      leaderElect: f['leader-elect'],
      leaseNamespace: f['leader-election-namespace'],
      leaseName: f['leader-election-id'],
      leaseTimings: {
        leaseDurationMs: f['leader-elect-lease-duration'],
        renewDeadlineMs: f['leader-elect-renew-deadline'],
        retryPeriodMs: f['leader-elect-retry-period'],
      },
      probeAddress: parseBindAddress(f['health-probe-bind-address']),
      probeAddressText: f['health-probe-bind-address'],
      unitAddressing: f['unit-addressing'],
      logging: loggingOptions(f),
    };
  },
  validate(o) {
    const problems = validateLogging(o.logging);
    if (o.probeAddress === 'invalid')
      problems.push(`--health-probe-bind-address must be host:port or 0, got "${o.probeAddressText}"`);
    if (o.unitAddressing !== 'dns' && o.unitAddressing !== 'podIP')
      problems.push(`--unit-addressing must be dns or podIP, got "${o.unitAddressing}"`);
    if (o.leaderElect && !o.leaseNamespace) problems.push('--leader-election-namespace must not be empty');
    const t = o.leaseTimings;
    if (o.leaderElect && !(t.leaseDurationMs > t.renewDeadlineMs && t.renewDeadlineMs > 1.2 * t.retryPeriodMs))
      problems.push(
        '--leader-elect-lease-duration must exceed --leader-elect-renew-deadline, which must exceed 1.2 × --leader-elect-retry-period',
      );
    return problems;
  },
  async run(o) {
    const logger = createLogger(o.logging);
    const kubeConfig = loadKubeConfig(o.kubeconfig);
    const running = await runControllers({
      kubeConfig,
      log: logger,
      leaderElection: o.leaderElect
        ? {
            namespace: o.leaseNamespace,
            name: o.leaseName,
            identity: `${hostname()}_${process.pid}`,
            ...o.leaseTimings,
          }
        : false,
      probeAddress: o.probeAddress === 'invalid' ? undefined : o.probeAddress,
      unitAddressing: o.unitAddressing as UnitAddressing,
      onLeaderLost: () => {
        logger.error('leader election lost; exiting');
        void running.stop().finally(() => process.exit(1));
      },
    });
    logger.info({ identity: running.manager.identity }, 'controllers started');
    return { logger, stop: () => running.stop() };
  },
};
