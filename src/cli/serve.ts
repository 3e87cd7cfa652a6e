// What `apiserver` and `local` share: opening storage and starting the upm.io API server on it.

import type { Logger } from 'pino';
import { upmRegistrations } from '../api/registrations.js';
import {
  defaultRequestHeaderConfig,
  RequestHeaderAuthenticator,
  type RequestHeaderConfig,
} from '../apiserver/authentication/requestheader.js';
import type { AsyncAuthorizer } from '../apiserver/authorization/delegating.js';
import { startAPIServer, type RunningAPIServer } from '../apiserver/server.js';
import { defineFlags } from './flags.js';
import { openStore, type CompactionSettings, type EtcdSettings, type OpenedStore } from './storage.js';

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
  /** The server's own owner-reference garbage collector (see APIServerOptions). */
  garbageCollector: boolean;
}

/** Opens storage and starts the API server; shared by `apiserver` and `local`. */
export async function serve(o: ServeOptions): Promise<RunningEngine> {
  const storage = openStore(o.storage, o.compaction, o.etcd);
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
    });
    return {
      server,
      storage,
      logger: o.logger,
      async stop() {
        await server.close();
        storage.stop();
        await storage.store.close();
      },
    };
  } catch (err) {
    storage.stop();
    await storage.store.close();
    throw err;
  }
}
