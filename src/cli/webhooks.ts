// `upm-engine webhooks`: the admission webhook server (UnitTemplate, UnitSet and SidecarSet
// validation, sidecar injection into Pods), a client of the cluster through a kubeconfig.

import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { startWebhooks, type RunningWebhooks } from '../webhooks/index.js';
import type { Command, CommonOptions, Running } from './command.js';
import { defineFlags } from './flags.js';
import { createLogger, loggingFlags, loggingOptions, validateLogging } from './logger.js';
import { validatePort } from './validation.js';

const flags = defineFlags({
  kubeconfig: {
    type: 'string',
    value: 'path',
    usage: 'kubeconfig of the cluster (default: $KUBECONFIG, ~/.kube/config, or the pod service account)',
  },
  'secure-port': { type: 'int', default: '9443', usage: 'HTTPS port; 0 picks a free port' },
  'bind-address': { type: 'string', value: 'ip', default: '0.0.0.0', usage: 'address to listen on' },
  namespace: {
    type: 'string',
    default: 'upm-system',
    usage: 'namespace of the Service in front of the server and of the certificate Secret',
  },
  'service-name': {
    type: 'string',
    default: 'upm-webhooks',
    usage: 'name of that Service; the certificate names <service>.<namespace>.svc',
  },
  'cert-secret': {
    type: 'string',
    default: 'upm-webhooks-certs',
    usage:
      'Secret holding the serving certificate: created and renewed here with a self-managed CA, or, when annotated cert-manager.io/certificate-name, renewed by cert-manager and followed',
  },
  'cert-validity': { type: 'duration', default: '8760h', usage: 'lifetime of a self-managed serving certificate' },
  'cert-renew-before': {
    type: 'duration',
    defaultText: 'a third of --cert-validity',
    usage: 'renew a self-managed certificate this long before it expires',
  },
  'extra-hosts': { type: 'list', usage: 'more DNS names or IP addresses for the serving certificate' },
  'tls-cert-file': {
    type: 'string',
    value: 'path',
    usage: 'serve this certificate instead of the Secret (not renewed)',
  },
  'tls-private-key-file': { type: 'string', value: 'path', usage: 'its key' },
  'tls-ca-file': { type: 'string', value: 'path', usage: 'the CA bundle to register for it' },
  register: {
    type: 'bool',
    default: 'true',
    usage:
      'create and keep up to date the webhook configurations, with the CA bundle (--register=false when they are installed from config/webhooks)',
  },
  'webhook-url': {
    type: 'string',
    value: 'url',
    usage: 'register https://host:port instead of the Service (for an API server outside the cluster)',
  },
  'injection-failure-policy': {
    type: 'string',
    value: 'policy',
    default: 'Ignore',
    usage: 'failurePolicy of sidecar injection: Ignore (Pods start without sidecars while the server is down) or Fail',
  },
  'shutdown-delay': {
    type: 'duration',
    default: '0s',
    usage: 'on SIGTERM, report not ready for this long before closing the listener (let endpoints drain)',
  },
  ...loggingFlags,
});

export interface WebhooksCommandOptions extends CommonOptions {
  kubeconfig?: string;
  securePort: number;
  bindAddress: string;
  namespace: string;
  serviceName: string;
  certSecret: string;
  certValidityMs: number;
  certRenewBeforeMs?: number;
  extraHosts: string[];
  tls?: { certFile?: string; keyFile?: string; caFile?: string };
  register: boolean;
  webhookURL?: string;
  injectionFailurePolicy: string;
  shutdownDelayMs: number;
}

export const webhooksCommand: Command<typeof flags, WebhooksCommandOptions> = {
  name: 'webhooks',
  summary: 'run the admission webhook server (template validation, sidecar injection)',
  description: `Serves the admission webhooks of UPM Engine over HTTPS: validation of UnitTemplates, UnitSets and
SidecarSets (naming the offending field), and injection of SidecarSet containers into the Pods of
Units. It reads UnitTemplates, SidecarSets and Namespaces from the cluster, keeps its serving
certificate in a Secret (renewing it before it expires, without dropping a request) and registers
its MutatingWebhookConfiguration and ValidatingWebhookConfiguration with the CA bundle.`,
  flags,

  toOptions(f) {
    const tls =
      f['tls-cert-file'] || f['tls-private-key-file'] || f['tls-ca-file']
        ? { certFile: f['tls-cert-file'], keyFile: f['tls-private-key-file'], caFile: f['tls-ca-file'] }
        : undefined;
    return {
      kubeconfig: f.kubeconfig,
      securePort: f['secure-port'],
      bindAddress: f['bind-address'],
      namespace: f.namespace,
      serviceName: f['service-name'],
      certSecret: f['cert-secret'],
      certValidityMs: f['cert-validity'],
      certRenewBeforeMs: f['cert-renew-before'],
      extraHosts: f['extra-hosts'],
      tls,
      register: f.register,
      webhookURL: f['webhook-url'],
      injectionFailurePolicy: f['injection-failure-policy'],
      shutdownDelayMs: f['shutdown-delay'],
      logging: loggingOptions(f),
    };
  },

  validate(o) {
    const problems = [...validatePort(o.securePort, '--secure-port'), ...validateLogging(o.logging)];
    if (!['Fail', 'Ignore'].includes(o.injectionFailurePolicy))
      problems.push(
        `--injection-failure-policy must be Fail or Ignore, not ${JSON.stringify(o.injectionFailurePolicy)}`,
      );
    if (o.tls && !(o.tls.certFile && o.tls.keyFile && o.tls.caFile))
      problems.push('--tls-cert-file, --tls-private-key-file and --tls-ca-file go together');
    if (o.certValidityMs <= 0) problems.push('--cert-validity must be positive');
    if (o.certRenewBeforeMs !== undefined && o.certRenewBeforeMs >= o.certValidityMs)
      problems.push('--cert-renew-before must be shorter than --cert-validity');
    if (o.webhookURL !== undefined && !/^https:\/\/[^/?#]+$/.test(o.webhookURL))
      problems.push('--webhook-url must be https://host[:port], without a path');
    return problems;
  },

  async run(o): Promise<Running> {
    const log = createLogger(o.logging);
    const kc = new KubeConfig();
    if (o.kubeconfig) kc.loadFromFile(o.kubeconfig);
    else kc.loadFromDefault();
    const read = (path: string, flag: string) => {
      try {
        return readFileSync(path, 'utf8');
      } catch (err) {
        throw new Error(`${flag}: ${(err as Error).message}`);
      }
    };
    const running: RunningWebhooks = await startWebhooks({
      kubeconfig: kc,
      port: o.securePort,
      bindAddress: o.bindAddress,
      namespace: o.namespace,
      serviceName: o.serviceName,
      secretName: o.certSecret,
      extraHosts: o.extraHosts,
      validityMs: o.certValidityMs,
      renewBeforeMs: o.certRenewBeforeMs,
      staticCertificate: o.tls
        ? {
            certPem: read(o.tls.certFile!, '--tls-cert-file'),
            keyPem: read(o.tls.keyFile!, '--tls-private-key-file'),
            caPem: read(o.tls.caFile!, '--tls-ca-file'),
          }
        : undefined,
      register: o.register,
      endpoint: o.webhookURL ? () => ({ url: o.webhookURL }) : undefined,
      injectionFailurePolicy: o.injectionFailurePolicy as 'Fail' | 'Ignore',
      shutdownDelayMs: o.shutdownDelayMs,
      log,
    });
    log.info({ url: running.server.url }, 'UPM Engine webhooks are serving');
    return { logger: log, stop: () => running.stop() };
  },
};
