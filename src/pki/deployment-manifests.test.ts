// Static checks of the in-cluster deployment (config/apiservice) and of hack/gen-certs.sh.
// No cluster exists here: the manifests are parsed with `yaml`, built with the real kubectl's
// kustomize (offline), and cross-checked the way kube-apiserver and the kubelet would wire them.

import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';
import { keyMatchesCert } from './certs.js';
import { SERVICE_HOSTS } from './bundle.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = path.join(ROOT, 'config', 'apiservice');

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: any;
};

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'APIService']);
const UPM_RESOURCES = [
  'unitsets',
  'units',
  'unittemplates',
  'sidecarsets',
  'mysqlreplications',
  'redisreplications',
  'redisclusters',
  'proxysqlsyncs',
];

const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .sort();
const byFile = new Map<string, Obj[]>();
for (const f of files) {
  const docs = parseAllDocuments(readFileSync(path.join(DIR, f), 'utf8'));
  byFile.set(
    f,
    docs.map((d) => {
      if (d.errors.length > 0) throw new Error(`${f}: ${d.errors.map((e) => e.message).join('; ')}`);
      return d.toJS() as Obj;
    }),
  );
}
const all = [...byFile.values()].flat();
const find = (kind: string, name: string, namespace?: string): Obj => {
  const o = all.find(
    (x) =>
      x.kind === kind && x.metadata.name === name && (namespace === undefined || x.metadata.namespace === namespace),
  );
  if (!o) throw new Error(`no ${kind} ${namespace ? `${namespace}/` : ''}${name}`);
  return o;
};

const deployment = find('Deployment', 'upm-apiserver', 'upm-system');
const pod = deployment.spec.template.spec;
const container = pod.containers.find((c: any) => c.name === 'apiserver');
const service = find('Service', 'upm-apiserver', 'upm-system');
const apiService = find('APIService', 'v1alpha1.upm.io');

/** Resolves a port reference (number or container port name) to the container port number. */
function containerPort(ref: number | string): number {
  if (typeof ref === 'number') return ref;
  const p = container.ports.find((x: any) => x.name === ref);
  if (!p) throw new Error(`no container port named ${ref}`);
  return p.containerPort;
}

function flag(name: string): string {
  const arg = (container.args as string[]).find((a) => a.startsWith(`--${name}=`));
  if (!arg) throw new Error(`no --${name}`);
  return arg.slice(name.length + 3);
}

function mountFor(file: string): { mount: any; volume: any } {
  const mount = container.volumeMounts.find((m: any) => file.startsWith(m.mountPath.replace(/\/?$/, '/')));
  if (!mount) throw new Error(`${file} is not under any volumeMount`);
  return { mount, volume: pod.volumes.find((v: any) => v.name === mount.name) };
}

describe('config/apiservice manifests', () => {
  it('parse, and every object has apiVersion, kind, name and the right scope', () => {
    expect(files.length).toBeGreaterThanOrEqual(11);
    for (const o of all) {
      expect(typeof o.apiVersion).toBe('string');
      expect(typeof o.kind).toBe('string');
      expect(o.metadata?.name).toMatch(/^[a-z0-9]([-a-z0-9.:]*[a-z0-9])?$/);
      if (CLUSTER_SCOPED.has(o.kind)) expect(o.metadata.namespace).toBeUndefined();
      else expect(['upm-system', 'kube-system']).toContain(o.metadata.namespace);
    }
    const keys = all.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('kustomization.yaml lists exactly the YAML files of the directory', () => {
    const k = parse(readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8'));
    expect(k.kind).toBe('Kustomization');
    expect([...k.resources].sort()).toEqual(files);
  });

  it('kubectl kustomize builds them offline into the same objects', async () => {
    const { stdout } = await run('kubectl', ['kustomize', DIR], { maxBuffer: 16 << 20 });
    const built = parseAllDocuments(stdout).map((d) => d.toJS() as Obj);
    const key = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    expect(built.map(key).sort()).toEqual(all.map(key).sort());
    const dep = built.find((o) => o.kind === 'Deployment')!;
    expect(dep.spec.template.spec.containers[0].image).toBe('upm-engine:dev');
  });

  it('APIService v1alpha1.upm.io is named <version>.<group> and points at the Service', () => {
    const s = apiService.spec;
    expect(apiService.apiVersion).toBe('apiregistration.k8s.io/v1');
    expect(apiService.metadata.name).toBe(`${s.version}.${s.group}`);
    expect(s).toMatchObject({ group: 'upm.io', version: 'v1alpha1', groupPriorityMinimum: 1000, versionPriority: 100 });
    expect(s.insecureSkipTLSVerify).toBeFalsy();
    expect(s.service).toEqual({ namespace: service.metadata.namespace, name: service.metadata.name, port: 443 });
    expect(service.spec.ports.map((p: any) => p.port)).toContain(s.service.port);
  });

  it('the Service forwards 443 to the container port the server listens on, selecting the pods', () => {
    const port = service.spec.ports.find((p: any) => p.port === 443);
    expect(containerPort(port.targetPort)).toBe(8443);
    expect(Number(flag('secure-port'))).toBe(8443);
    for (const [k, v] of Object.entries(service.spec.selector))
      expect(deployment.spec.template.metadata.labels[k]).toBe(v);
    for (const [k, v] of Object.entries(deployment.spec.selector.matchLabels))
      expect(deployment.spec.template.metadata.labels[k]).toBe(v);
  });

  it('probes /readyz and /livez over HTTPS on the serving port', () => {
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/readyz', scheme: 'HTTPS' });
    expect(container.livenessProbe.httpGet).toMatchObject({ path: '/livez', scheme: 'HTTPS' });
    expect(containerPort(container.readinessProbe.httpGet.port)).toBe(8443);
    expect(containerPort(container.livenessProbe.httpGet.port)).toBe(8443);
  });

  it('runs one replica of the apiserver with TLS from the Secret and SQLite on the PVC', () => {
    // SQLite: one writer. More replicas need --storage=etcd: (a later release).
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy.type).toBe('Recreate');
    expect(container.image).toBe('upm-engine:dev');
    expect(container.args[0]).toBe('apiserver');
    expect(container.args).toEqual(
      expect.arrayContaining([
        '--tls-cert-file=/var/run/upm/serving/tls.crt',
        '--tls-private-key-file=/var/run/upm/serving/tls.key',
        '--storage=sqlite:/var/lib/upm/upm.db',
      ]),
    );
    for (const f of [flag('tls-cert-file'), flag('tls-private-key-file')]) {
      const { mount, volume } = mountFor(f);
      expect(mount.readOnly).toBe(true);
      expect(volume.secret.secretName).toBe('upm-apiserver-serving');
      expect(['tls.crt', 'tls.key']).toContain(path.basename(f));
    }
    const db = flag('storage').replace(/^sqlite:/, '');
    const { mount, volume } = mountFor(db);
    expect(mount.readOnly).toBeFalsy();
    const pvc = find('PersistentVolumeClaim', volume.persistentVolumeClaim.claimName, 'upm-system');
    expect(pvc.spec.accessModes).toEqual(['ReadWriteOnce']);
  });

  it('is non-root with a read-only root filesystem (Pod Security "restricted")', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(mountFor('/tmp/x').volume.emptyDir).toBeDefined();
    expect(find('Namespace', 'upm-system').metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('binds auth-delegator, the auth ConfigMap reader and its own ClusterRole to the Deployment ServiceAccount', () => {
    const sa = find('ServiceAccount', pod.serviceAccountName, 'upm-system');
    const bindings = all.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding');
    expect(bindings.length).toBe(3);
    for (const b of bindings) {
      expect(b.subjects).toEqual([
        { kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace },
      ]);
      expect(b.roleRef.apiGroup).toBe('rbac.authorization.k8s.io');
    }
    const delegator = bindings.find((b) => b.roleRef.name === 'system:auth-delegator')!;
    expect(delegator).toMatchObject({ kind: 'ClusterRoleBinding', roleRef: { kind: 'ClusterRole' } });
    const reader = bindings.find((b) => b.roleRef.name === 'extension-apiserver-authentication-reader')!;
    expect(reader).toMatchObject({
      kind: 'RoleBinding',
      metadata: { namespace: 'kube-system' },
      roleRef: { kind: 'Role' },
    });
    const own = bindings.find((b) => b.roleRef.name === 'upm-apiserver')!;
    const role = find('ClusterRole', own.roleRef.name);
    const rule = (group: string) => role.rules.find((r: any) => r.apiGroups.includes(group));
    expect(rule('').resources).toEqual(['namespaces']);
    expect(rule('').verbs).toEqual(['get', 'list', 'watch']);
    expect(rule('admissionregistration.k8s.io').resources).toEqual(
      expect.arrayContaining([
        'mutatingwebhookconfigurations',
        'validatingwebhookconfigurations',
        'validatingadmissionpolicies',
      ]),
    );
    expect(rule('admissionregistration.k8s.io').verbs).toEqual(['get', 'list', 'watch']);
  });

  it('aggregates every upm.io resource into view, edit and admin', () => {
    const roles = all.filter(
      (o) =>
        o.kind === 'ClusterRole' &&
        Object.keys(o.metadata.labels ?? {}).some((l) => l.startsWith('rbac.authorization.k8s.io/aggregate-to-')),
    );
    expect(roles.length).toBe(3);
    const granted = (level: 'view' | 'edit' | 'admin') => {
      const g = new Map<string, Set<string>>();
      for (const r of roles.filter(
        (x) => x.metadata.labels?.[`rbac.authorization.k8s.io/aggregate-to-${level}`] === 'true',
      )) {
        for (const rule of r.rules) {
          expect(rule.apiGroups).toEqual(['upm.io']);
          for (const res of rule.resources) for (const v of rule.verbs) g.set(res, (g.get(res) ?? new Set()).add(v));
        }
      }
      return g;
    };
    const view = granted('view');
    const edit = granted('edit');
    const admin = granted('admin');
    for (const r of UPM_RESOURCES) {
      expect([...view.get(r)!].sort()).toEqual(['get', 'list', 'watch']);
      expect([...view.get(`${r}/status`)!].sort()).toEqual(['get', 'list', 'watch']);
      for (const g of [edit, admin])
        expect([...g.get(r)!].sort()).toEqual([
          'create',
          'delete',
          'deletecollection',
          'get',
          'list',
          'patch',
          'update',
          'watch',
        ]);
      // status is written by controllers, not by users
      expect(edit.get(`${r}/status`)?.has('update') ?? false).toBe(false);
    }
    expect([...edit.get('unitsets/scale')!].sort()).toEqual(['get', 'list', 'patch', 'update', 'watch']);
    expect(view.get('unitsets/scale')?.has('patch')).toBe(false);
  });

  it('has a PodDisruptionBudget selecting the pods', () => {
    const pdb = find('PodDisruptionBudget', 'upm-apiserver', 'upm-system');
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels))
      expect(deployment.spec.template.metadata.labels[k]).toBe(v);
  });
});

describe('hack/gen-certs.sh', () => {
  let out: string;
  beforeAll(() => {
    out = path.join(mkdtempSync(path.join(os.tmpdir(), 'upm-gencerts-')), 'deploy');
  });
  afterAll(() => rmSync(path.dirname(out), { recursive: true, force: true }));

  it('writes a Secret and an overlay whose APIService caBundle trusts the serving certificate', async () => {
    await run('bash', [
      path.join(ROOT, 'hack', 'gen-certs.sh'),
      '--out',
      out,
      '--image',
      'registry.test/upm/engine:v9',
    ]);
    for (const k of ['ca.key', 'tls.key', 'serving-secret.yaml'])
      expect(statSync(path.join(out, k)).mode & 0o777).toBe(0o600);

    const { stdout } = await run('kubectl', ['kustomize', out], { maxBuffer: 16 << 20 });
    const objs = parseAllDocuments(stdout).map((d) => d.toJS() as Obj);
    const secret = objs.find((o) => o.kind === 'Secret')!;
    const svc = objs.find((o) => o.kind === 'APIService')!;
    const dep = objs.find((o) => o.kind === 'Deployment')!;
    expect(objs.length).toBe(all.length + 1);
    expect(secret).toMatchObject({
      type: 'kubernetes.io/tls',
      metadata: { name: 'upm-apiserver-serving', namespace: 'upm-system' },
    });
    expect(dep.spec.template.spec.volumes.find((v: any) => v.secret)?.secret.secretName).toBe(secret.metadata.name);
    expect(dep.spec.template.spec.containers[0].image).toBe('registry.test/upm/engine:v9');

    const dec = (s: string) => Buffer.from(s, 'base64').toString('utf8');
    const caPem = dec(svc.spec.caBundle);
    expect(dec(secret.data['ca.crt'])).toBe(caPem);
    const ca = new X509Certificate(caPem);
    const leaf = new X509Certificate(dec(secret.data['tls.crt']));
    expect(ca.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(keyMatchesCert(dec(secret.data['tls.key']), leaf.toString())).toBe(true);
    // kube-aggregator dials <service>.<namespace>.svc and verifies that name against caBundle
    for (const h of SERVICE_HOSTS) expect(leaf.checkHost(h)).toBe(h);
    expect(leaf.checkHost(`${svc.spec.service.name}.${svc.spec.service.namespace}.svc`)).toBeDefined();
    expect(BigInt(`0x${leaf.serialNumber}`) > 0n).toBe(true);
  });

  it('is idempotent: a second run keeps the CA and the serving certificate', async () => {
    const before = readFileSync(path.join(out, 'tls.crt'), 'utf8');
    const caBefore = readFileSync(path.join(out, 'ca.crt'), 'utf8');
    const { stdout } = await run('bash', [path.join(ROOT, 'hack', 'gen-certs.sh'), '--out', out]);
    expect(stdout).not.toMatch(/new (CA|serving)/);
    expect(readFileSync(path.join(out, 'tls.crt'), 'utf8')).toBe(before);
    expect(readFileSync(path.join(out, 'ca.crt'), 'utf8')).toBe(caBefore);
    const { stdout: forced } = await run('bash', [path.join(ROOT, 'hack', 'gen-certs.sh'), '--out', out, '--force']);
    expect(forced).toMatch(/new CA/);
    expect(readFileSync(path.join(out, 'ca.crt'), 'utf8')).not.toBe(caBefore);
  });
});

describe('hack scripts', () => {
  it.each(['ensure-system-packages.sh', 'gen-certs.sh', 'kind-up.sh', 'kind-down.sh'])(
    '%s is valid bash with strict mode',
    async (f) => {
      const file = path.join(ROOT, 'hack', f);
      await run('bash', ['-n', file]);
      expect(readFileSync(file, 'utf8')).toMatch(/^#!\/usr\/bin\/env bash\n[\s\S]*^set -euo pipefail$/m);
      expect(statSync(file).mode & 0o111).not.toBe(0);
    },
  );
});
