// What `apiserver` and `local` share: opening storage and starting the upm.io API server on it.

import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { AuditLogger, parsePolicy } from '../apiserver/audit/audit.js';
import { upmRegistrations } from '../api/registrations.js';
import {
  defaultRequestHeaderConfig,
  RequestHeaderAuthenticator,
  type RequestHeaderConfig,
} from '../apiserver/authentication/requestheader.js';
import type { AsyncAuthorizer } from '../apiserver/authorization/delegating.js';
import { NamespaceLifecycle } from '../apiserver/admission/namespace-lifecycle.js';
import type { ClusterNamespaceLookup } from '../apiserver/admission/namespace-lookup.js';
import { startAPIServer, type RunningAPIServer } from '../apiserver/server.js';
import { defineFlags } from './flags.js';
import { openStore, type CompactionSettings, type EtcdSettings, type OpenedStore } from './storage.js';

export const auditFlags = defineFlags({
  'audit-log-path': {
    type: 'string',
    value: 'path',
    usage: 'write one audit.k8s.io/v1 Event (JSON line) per upm.io request to this file; - for standard output',
  },
  'audit-policy-file': {
    type: 'string',
    value: 'path',
    usage:
      'audit policy (audit.k8s.io/v1 Policy: levels None, Metadata, Request by user, verb, resource); default Metadata for all',
  },
});

export interface AuditSettings {
  logPath?: string;
  policyFile?: string;
}

export function auditSettings(f: { 'audit-log-path'?: string; 'audit-policy-file'?: string }): AuditSettings {
  return { logPath: f['audit-log-path'], policyFile: f['audit-policy-file'] };
}

export function validateAudit(a: AuditSettings): string[] {
  if (a.policyFile && !a.logPath) return ['--audit-policy-file needs --audit-log-path'];
  if (!a.policyFile) return [];
  try {
    parsePolicy(readFileSync(a.policyFile, 'utf8'));
    return [];
  } catch (err) {
    return [`--audit-policy-file: ${(err as Error).message}`];
  }
}

function openAuditLog(a: AuditSettings | undefined): AuditLogger | undefined {
  if (!a?.logPath) return undefined;
  return new AuditLogger({
    path: a.logPath,
    policy: a.policyFile ? parsePolicy(readFileSync(a.policyFile, 'utf8')) : undefined,
  });
}

export const watchFlags = defineFlags({
  'watch-bookmark-interval': {
    type: 'duration',
    default: '1m',
    usage: 'how often watches that allow bookmarks get one',
  },
});

export interface RunningEngine {
  server: RunningAPIServer;
  storage: OpenedStore;
  logger: Logger;
  stop(): Promise<void>;
}

export interface ServeOptions {
  logger: Logger;
  storage: string;
  etcd?: EtcdSettings;
  compaction: CompactionSettings;
  bookmarkIntervalMs: number;
  bindAddress: string;
  port: number;
  certPem: string;
  keyPem: string;
  clientCAPem?: string;
  anonymousAuth: boolean;
  /** Front-proxy authentication (kube-apiserver's aggregator in front of us); unset header lists default to X-Remote-*. */
  requestHeader?: Pick<RequestHeaderConfig, 'clientCAPem' | 'allowedNames'> & Partial<RequestHeaderConfig>;
  /** Delegated authorization; without it every authenticated user is allowed. */
  authorizer?: AsyncAuthorizer;
  /** The cluster's namespaces, for NamespaceLifecycle admission (closed on stop); without it creates are not checked. */
  namespaces?: ClusterNamespaceLookup;
  /** The server's own owner-reference garbage collector (see APIServerOptions). */
  garbageCollector: boolean;
  audit?: AuditSettings;
}

/** Opens storage and starts the API server; shared by `apiserver` and `local`. */
export async function serve(o: ServeOptions): Promise<RunningEngine> {
  const storage = openStore(o.storage, o.compaction, o.etcd);
  const audit = openAuditLog(o.audit);
  try {
    const server = await startAPIServer({
      store: storage.store,
      resources: upmRegistrations(),
      logger: o.logger,
      tls: {
        certPem: o.certPem,
        keyPem: o.keyPem,
        clientCAPem: o.clientCAPem,
        requestHeaderCAPem: o.requestHeader?.clientCAPem,
      },
      authenticators: o.requestHeader
        ? [new RequestHeaderAuthenticator({ ...defaultRequestHeaderConfig, ...o.requestHeader })]
        : [],
      authorizer: o.authorizer,
      bindAddress: o.bindAddress,
      port: o.port,
      anonymousAuth: o.anonymousAuth,
      watch: { bookmarkIntervalMs: o.bookmarkIntervalMs },
      garbageCollector: o.garbageCollector,
      audit,
    });
    if (o.namespaces) server.registry.setNamespaceLifecycle(new NamespaceLifecycle(o.namespaces.lookup));
    return {
      server,
      storage,
      logger: o.logger,
      async stop() {
        o.namespaces?.close();
        await server.close();
        await audit?.close();
        storage.stop();
        await storage.store.close();
      },
    };
  } catch (err) {
    await audit?.close();
    storage.stop();
    await storage.store.close();
    throw err;
  }
}
