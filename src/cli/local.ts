// `upm-engine local` (what `npm start` runs): everything on one machine, on the embedded
// SQLite storage, with a generated CA, serving and admin certificates and a kubeconfig.

import { join, resolve } from 'node:path';
import { DelegatingAuthorizer, type SubjectAccessReviewer } from '../apiserver/authorization/delegating.js';
import { subjectAccessReviewer } from '../apiserver/authorization/sar-client.js';
import {
  ensureFrontProxyPKI,
  ensureServiceAccountKey,
  frontProxyClientName,
  startControlPlane,
} from '../localcluster/controlplane.js';
import { ensureLocalPKI } from '../pki/bundle.js';
import { buildKubeconfig, writeKubeconfig } from '../pki/kubeconfig.js';
import { commonFlagOptions, parseCount, parseLogFormat, serve, type RunningEngine } from './apiserver.js';
import { openStore } from './storage.js';
import { parseDuration, parseFlags, parsePort } from './flags.js';
import { createLogger } from './logger.js';

export const localUsage = `Usage: upm-engine local [flags]

Runs UPM Engine locally: the upm.io API server on embedded SQLite storage, with certificates
and a kubeconfig generated under the data directory.

Flags:
  --data-dir path                    where data, certificates and the kubeconfig live (default .upm)
  --port int                         HTTPS port (default 6443; 0 picks a free port)
  --bind-address ip                  address to listen on (default 127.0.0.1)
  --standalone                       serve only upm.io, without the local control plane in front
  --storage backend:location         storage (default sqlite:<data-dir>/upm.db)
  --compaction-interval duration     how often old revisions are compacted (default 5m; 0 disables)
  --compaction-min-retained-revisions int  latest revisions never compacted (default 1000)
  --watch-bookmark-interval duration bookmark period (default 1m)
  --log-level level                  trace, debug, info, warn, error (default info)
  --log-format format                json, text or auto (default auto)
`;

export async function runLocal(argv: string[]): Promise<RunningEngine | undefined> {
  const v = parseFlags(argv, {
    ...commonFlagOptions,
    'data-dir': { type: 'string', default: '.upm' },
    port: { type: 'string', default: '6443' },
    'bind-address': { type: 'string', default: '127.0.0.1' },
    standalone: { type: 'boolean', default: false },
  });
  if (v.help) {
    process.stdout.write(localUsage);
    return undefined;
  }
  const dataDir = resolve(v['data-dir']);
  const logger = createLogger(v['log-level'], parseLogFormat(v['log-format']));
  const bindAddress = v['bind-address'];
  const pki = await ensureLocalPKI(join(dataDir, 'pki'), {
    serverHosts: bindAddress === '0.0.0.0' || bindAddress === '::' ? [] : [bindAddress],
  });
  if (pki.generated.length > 0)
    logger.info({ generated: pki.generated, dir: join(dataDir, 'pki') }, 'generated certificates');
  const port = parsePort(v.port, '--port');
  const compactionIntervalMs = parseDuration(v['compaction-interval']);
  const compactionMinRetained = parseCount(
    v['compaction-min-retained-revisions'],
    '--compaction-min-retained-revisions',
  );
  const bookmarkIntervalMs = parseDuration(v['watch-bookmark-interval']);
  let engine: RunningEngine;
  let url: string;
  if (v.standalone) {
    // Only the upm.io server, clients talking to it directly.
    engine = await serve({
      logger,
      storage: v.storage ?? `sqlite:${join(dataDir, 'upm.db')}`,
      compactionIntervalMs,
      compactionMinRetained,
      bookmarkIntervalMs,
      bindAddress,
      port,
      certPem: pki.apiserver.certPem,
      keyPem: pki.apiserver.keyPem,
      clientCAPem: pki.ca.certPem,
      anonymousAuth: false,
    });
    url = engine.server.url;
  } else {
    // The upm.io server behind the local control plane, as behind kube-apiserver.
    const frontProxy = ensureFrontProxyPKI(join(dataDir, 'pki'));
    // The upm.io server asks the control plane who may do what, once it is serving.
    let reviewer: SubjectAccessReviewer = () => Promise.reject(new Error('the control plane is not serving yet'));
    const upm = await serve({
      logger: logger.child({ component: 'upm-apiserver' }),
      storage: v.storage ?? `sqlite:${join(dataDir, 'upm.db')}`,
      compactionIntervalMs,
      compactionMinRetained,
      bookmarkIntervalMs,
      bindAddress: '127.0.0.1',
      port: 0,
      certPem: pki.apiserver.certPem,
      keyPem: pki.apiserver.keyPem,
      clientCAPem: pki.ca.certPem,
      anonymousAuth: false,
      requestHeader: { clientCAPem: frontProxy.ca.certPem, allowedNames: [frontProxyClientName] },
      authorizer: new DelegatingAuthorizer((spec) => reviewer(spec)),
    });
    const cluster = openStore(`sqlite:${join(dataDir, 'cluster.db')}`, {
      intervalMs: compactionIntervalMs,
      minRetainedRevisions: compactionMinRetained,
    });
    const controlPlane = await startControlPlane({
      store: cluster.store,
      pki,
      frontProxy,
      logger: logger.child({ component: 'control-plane' }),
      bindAddress,
      port,
      upmServer: { host: '127.0.0.1', port: upm.server.port },
      serviceAccountKeyPem: ensureServiceAccountKey(join(dataDir, 'pki')),
      onServing: (serverURL) => {
        reviewer = subjectAccessReviewer(
          buildKubeconfig({
            clusterName: 'local',
            server: serverURL,
            caPem: pki.ca.certPem,
            user: 'upm-apiserver',
            clientCertPem: pki.admin.certPem,
            clientKeyPem: pki.admin.keyPem,
          }),
        );
      },
      bookmarkIntervalMs,
    });
    url = controlPlane.url;
    engine = {
      ...upm,
      async stop() {
        await controlPlane.stop();
        cluster.stop();
        await cluster.store.close();
        await upm.stop();
      },
    };
  }
  const kubeconfig = join(dataDir, 'kubeconfig');
  const host =
    bindAddress === '0.0.0.0'
      ? '127.0.0.1'
      : bindAddress === '::'
        ? '[::1]'
        : bindAddress.includes(':')
          ? `[${bindAddress}]`
          : bindAddress;
  await writeKubeconfig(kubeconfig, {
    clusterName: 'upm-local',
    server: `https://${host}:${new URL(url).port}`,
    caPem: pki.ca.certPem,
    user: 'upm-admin',
    clientCertPem: pki.admin.certPem,
    clientKeyPem: pki.admin.keyPem,
    namespace: 'default',
  });
  logger.info({ kubeconfig, url }, 'UPM Engine is running');
  process.stdout.write(
    `\nUPM Engine is serving at ${url}\nTry:\n  kubectl --kubeconfig ${kubeconfig} api-resources --api-group=upm.io\n  kubectl --kubeconfig ${kubeconfig} get unitsets\n\n`,
  );
  return engine;
}
