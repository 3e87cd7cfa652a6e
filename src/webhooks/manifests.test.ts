// Static checks of config/webhooks: the manifests parse, kustomize builds them offline, the
// webhook configurations are what the server registers and what kube-apiserver accepts, and
// the Deployment, Service, RBAC and certificate agree with each other and with the flags of
// `upm-engine webhooks`.

import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { validateWebhookConfiguration } from '../apiserver/admission/types.js';
import { parseCommandLine } from '../cli/command.js';
import { webhooksCommand, type WebhooksCommandOptions } from '../cli/webhooks.js';
import { upmWebhooks, webhookConfigurations } from './index.js';
import { exemptNamespaces } from './webhook.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = path.join(ROOT, 'config', 'webhooks');

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: any };
  [k: string]: any;
};

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return f.endsWith('.yaml') && f !== 'kustomization.yaml' ? [p] : [];
  });
}

function load(file: string): Obj[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as Obj;
  });
}

const all = yamlFiles(DIR).flatMap(load);
const find = (kind: string, name: string): Obj => {
  const o = all.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
};

const deployment = find('Deployment', 'upm-webhooks');
const container = deployment.spec.template.spec.containers[0];
const options = parseCommandLine(webhooksCommand, container.args.slice(1)) as WebhooksCommandOptions;
const state = {
  unitTemplate: () => undefined,
  unitTemplates: () => [],
  sidecarSets: () => [],
  namespaceLabels: () => undefined,
};

describe('config/webhooks', () => {
  it('parses, and every namespaced object is in upm-system', () => {
    for (const o of all) {
      expect(o.apiVersion && o.kind && o.metadata.name).toBeTruthy();
      const clusterScoped = [
        'ClusterRole',
        'ClusterRoleBinding',
        'MutatingWebhookConfiguration',
        'ValidatingWebhookConfiguration',
      ];
      expect(o.metadata.namespace).toBe(clusterScoped.includes(o.kind) ? undefined : 'upm-system');
    }
  });

  it.each(['', 'cert-manager'])('kubectl kustomize builds config/webhooks/%s offline', async (sub) => {
    const { stdout } = await run('kubectl', ['kustomize', path.join(DIR, sub)]);
    const kinds = parseAllDocuments(stdout).map((d) => (d.toJS() as Obj).kind);
    expect(kinds).toEqual(expect.arrayContaining(['Deployment', 'Service', 'ServiceAccount', 'ClusterRole', 'Role']));
    if (sub === 'cert-manager') {
      expect(kinds).toEqual(
        expect.arrayContaining([
          'Certificate',
          'Issuer',
          'MutatingWebhookConfiguration',
          'ValidatingWebhookConfiguration',
        ]),
      );
      const built = parseAllDocuments(stdout).map((d) => d.toJS() as Obj);
      const dep = built.find((o) => o.kind === 'Deployment')!;
      expect(dep.spec.template.spec.containers[0].args).toContain('--register=false');
      for (const c of built.filter((o) => o.kind.endsWith('WebhookConfiguration')))
        expect(c.metadata.annotations['cert-manager.io/inject-ca-from']).toBe('upm-system/upm-webhooks');
    }
  });

  it('holds the webhook configurations the server registers, valid for kube-apiserver', () => {
    const expected = webhookConfigurations(upmWebhooks(state), {
      service: { namespace: options.namespace, name: options.serviceName, port: 443 },
    });
    const mutating = find('MutatingWebhookConfiguration', 'upm-webhooks');
    const validating = find('ValidatingWebhookConfiguration', 'upm-webhooks');
    expect(mutating).toEqual(expected.mutating);
    expect(validating).toEqual(expected.validating);
    expect(validateWebhookConfiguration(mutating as never, true)).toEqual([]);
    expect(validateWebhookConfiguration(validating as never, false)).toEqual([]);
  });

  it('configures every webhook with sideEffects None, a short timeout, Equivalent matching and the system namespaces left out', () => {
    for (const config of [
      find('MutatingWebhookConfiguration', 'upm-webhooks'),
      find('ValidatingWebhookConfiguration', 'upm-webhooks'),
    ]) {
      for (const w of config.webhooks) {
        expect(w).toMatchObject({ sideEffects: 'None', matchPolicy: 'Equivalent', admissionReviewVersions: ['v1'] });
        expect(w.timeoutSeconds).toBeGreaterThanOrEqual(1);
        expect(w.timeoutSeconds).toBeLessThanOrEqual(10);
        const bySelector = w.namespaceSelector?.matchExpressions?.find(
          (e: any) => e.key === 'kubernetes.io/metadata.name' && e.operator === 'NotIn',
        )?.values;
        const byCondition = w.matchConditions?.map((c: any) => c.expression).join(' ');
        for (const ns of exemptNamespaces)
          expect(bySelector?.includes(ns) || (byCondition ?? '').includes(`'${ns}'`)).toBe(true);
        expect(w.clientConfig.service).toMatchObject({ namespace: 'upm-system', name: 'upm-webhooks', port: 443 });
      }
    }
    const injection = find('MutatingWebhookConfiguration', 'upm-webhooks').webhooks[0];
    expect(injection).toMatchObject({
      name: 'sidecars.inject.upm.io',
      reinvocationPolicy: 'IfNeeded',
      failurePolicy: 'Ignore',
    });
    expect(injection.rules).toEqual([
      { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' },
    ]);
  });

  it('points the Service at the port the server listens on, and probes readiness and liveness over HTTPS there', () => {
    const service = find('Service', 'upm-webhooks');
    const port = container.ports.find((p: any) => p.name === service.spec.ports[0].targetPort);
    expect(service.spec.ports[0].port).toBe(443);
    expect(port.containerPort).toBe(options.securePort);
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'https', scheme: 'HTTPS' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/livez', port: 'https', scheme: 'HTTPS' });
    expect(options).toMatchObject({ namespace: 'upm-system', serviceName: service.metadata.name, register: true });
    expect(find('PodDisruptionBudget', 'upm-webhooks').spec.selector.matchLabels).toEqual(
      deployment.spec.selector.matchLabels,
    );
  });

  it('grants the ServiceAccount what the server reads and writes, and the certificate Secret by name', () => {
    const sa = deployment.spec.template.spec.serviceAccountName;
    const allows = (rules: any[], group: string, resource: string, verb: string, name?: string) =>
      rules.some(
        (r) =>
          r.apiGroups.includes(group) &&
          r.resources.includes(resource) &&
          r.verbs.includes(verb) &&
          (!r.resourceNames || (name !== undefined && r.resourceNames.includes(name))),
      );
    const clusterRole = find('ClusterRole', 'upm-webhooks').rules;
    for (const verb of ['list', 'watch']) {
      expect(allows(clusterRole, 'upm.io', 'unittemplates', verb)).toBe(true);
      expect(allows(clusterRole, 'upm.io', 'sidecarsets', verb)).toBe(true);
      expect(allows(clusterRole, '', 'namespaces', verb)).toBe(true);
    }
    for (const resource of ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations']) {
      expect(allows(clusterRole, 'admissionregistration.k8s.io', resource, 'create')).toBe(true);
      expect(allows(clusterRole, 'admissionregistration.k8s.io', resource, 'get', 'upm-webhooks')).toBe(true);
      expect(allows(clusterRole, 'admissionregistration.k8s.io', resource, 'update', 'upm-webhooks')).toBe(true);
    }
    const role = find('Role', 'upm-webhooks-certs').rules;
    expect(allows(role, '', 'secrets', 'create')).toBe(true);
    expect(allows(role, '', 'secrets', 'get', options.certSecret)).toBe(true);
    expect(allows(role, '', 'secrets', 'update', options.certSecret)).toBe(true);
    for (const [binding, kind] of [
      ['ClusterRoleBinding', 'upm-webhooks'],
      ['RoleBinding', 'upm-webhooks-certs'],
    ] as const)
      expect(find(binding, kind).subjects).toEqual([{ kind: 'ServiceAccount', name: sa, namespace: 'upm-system' }]);
  });

  it('has cert-manager issue the Secret the server reads, for the Service names', () => {
    const cert = find('Certificate', 'upm-webhooks');
    expect(cert.spec.secretName).toBe(options.certSecret);
    expect(cert.spec.dnsNames).toEqual([
      `${options.serviceName}.${options.namespace}.svc`,
      `${options.serviceName}.${options.namespace}.svc.cluster.local`,
    ]);
  });

  it('runs non-root with a read-only root filesystem', () => {
    const pod = deployment.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
  });
});
