// `upm-engine local` (what `npm start` runs): everything on one machine, on the embedded
// SQLite storage, with a generated CA, serving and admin certificates and a kubeconfig.

import { join, resolve } from 'node:path';
import { ensureLocalPKI } from '../pki/bundle.js';
import { writeKubeconfig } from '../pki/kubeconfig.js';
import { commonFlagOptions, parseCount, parseLogFormat, serve, type RunningEngine } from './apiserver.js';
import { parseDuration, parseFlags, parsePort } from './flags.js';
import { createLogger } from './logger.js';

export const localUsage = `Usage: upm-engine local [flags]

Runs UPM Engine locally: the upm.io API server on embedded SQLite storage, with certificates
and a kubeconfig generated under the data directory.

Flags:
  --data-dir path                    where data, certificates and the kubeconfig live (default .upm)
  --port int                         HTTPS port (default 6443; 0 picks a free port)
  --bind-address ip                  address to listen on (default 127.0.0.1)
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
  });
  if (v.help) {
    process.stdout.write(localUsage);
    return undefined;
  }
  const dataDir = resolve(v['data-dir']);
  const logger = createLogger(v['log-level'], parseLogFormat(v['log-format']));
  const bindAddress = v['bind-address'];
  const pki = await ensureLocalPKI(join(dataDir, 'pki'), { serverHosts: bindAddress === '0.0.0.0' || bindAddress === '::' ? [] : [bindAddress] });
  if (pki.generated.length > 0) logger.info({ generated: pki.generated, dir: join(dataDir, 'pki') }, 'generated certificates');
  const engine = await serve({
    logger,
    storage: v.storage ?? `sqlite:${join(dataDir, 'upm.db')}`,
    compactionIntervalMs: parseDuration(v['compaction-interval']),
    compactionMinRetained: parseCount(v['compaction-min-retained-revisions'], '--compaction-min-retained-revisions'),
    bookmarkIntervalMs: parseDuration(v['watch-bookmark-interval']),
    bindAddress,
    port: parsePort(v.port, '--port'),
    certPem: pki.apiserver.certPem,
    keyPem: pki.apiserver.keyPem,
    clientCAPem: pki.ca.certPem,
    anonymousAuth: false,
  });
  const kubeconfig = join(dataDir, 'kubeconfig');
  const host = bindAddress === '0.0.0.0' ? '127.0.0.1' : bindAddress === '::' ? '[::1]' : bindAddress.includes(':') ? `[${bindAddress}]` : bindAddress;
  await writeKubeconfig(kubeconfig, {
    clusterName: 'upm-local',
    server: `https://${host}:${engine.server.port}`,
    caPem: pki.ca.certPem,
    user: 'upm-admin',
    clientCertPem: pki.admin.certPem,
    clientKeyPem: pki.admin.keyPem,
    namespace: 'default',
  });
  logger.info({ kubeconfig, url: engine.server.url }, 'UPM Engine is running');
  process.stdout.write(`\nUPM Engine is serving at ${engine.server.url}\nTry:\n  kubectl --kubeconfig ${kubeconfig} api-resources --api-group=upm.io\n  kubectl --kubeconfig ${kubeconfig} get unitsets\n\n`);
  return engine;
}
