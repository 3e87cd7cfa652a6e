import { applyJSONPatch, parseJSONPatch } from '../../apiserver/patch/json-patch.js';
import { injectedAnnotation, sidecarSetRevision } from '../../api/sidecarsets.js';
import type { AdmissionRequest } from '../../machinery/admission.js';
import type { KubeObject } from '../../machinery/object.js';
import { injectSidecars, type SidecarSetInput } from './inject.js';
import { reviewPodInjection } from './mutate.js';

function unitPod(extra: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'db-0',
      namespace: 'default',
      labels: { 'upm.io/unit': 'db-0', 'upm.io/unitset': 'db', 'upm.io/type': 'mysql', ...extra.labels },
      ...(extra.annotations ? { annotations: extra.annotations } : {}),
    },
    spec: {
      containers: [
        { name: 'mysql', image: 'mysql:8.0.36', volumeMounts: [{ name: 'data', mountPath: '/var/lib/mysql' }] },
      ],
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'db-0-data' } }],
    },
  };
}

const exporter: SidecarSetInput = {
  name: 'mysql-exporter',
  spec: {
    selector: { matchLabels: { 'upm.io/type': 'mysql' } },
    containers: [{ name: 'mysqld-exporter', image: 'prom/mysqld-exporter:v0.15.1' }],
    volumes: [{ name: 'exporter-config', configMap: { name: 'exporter' } }],
  },
};
const logShipper: SidecarSetInput = {
  name: 'log-shipper',
  spec: {
    selector: {},
    containers: [{ name: 'fluent-bit', image: 'fluent/fluent-bit:3' }],
    initContainers: [{ name: 'log-init', image: 'busybox' }],
    injection: { position: 'BeforeAppContainer', shareVolumes: true, priority: -1 },
  },
};

function admissionRequest(pod: KubeObject): AdmissionRequest {
  return {
    uid: 'u1',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'default',
    operation: 'CREATE',
    userInfo: {},
    object: pod,
    oldObject: null,
    dryRun: false,
    options: null,
  };
}

/** What the API server does with the webhook's answer: decode the patch and apply it. */
function admit(pod: KubeObject, sets: SidecarSetInput[], nsLabels: Record<string, string> = {}): KubeObject {
  const res = reviewPodInjection(admissionRequest(pod), sets, nsLabels);
  expect(res).toMatchObject({ uid: 'u1', allowed: true });
  if (!res.patch) return pod;
  expect(res.patchType).toBe('JSONPatch');
  const ops = parseJSONPatch(JSON.parse(Buffer.from(res.patch, 'base64').toString('utf8')));
  return applyJSONPatch(structuredClone(pod), ops) as KubeObject;
}

const names = (pod: KubeObject, key = 'containers') =>
  ((pod['spec'] as Record<string, { name: string }[]>)[key] ?? []).map((c) => c.name);

describe('sidecar injection', () => {
  it('injects the containers and volumes of matching SidecarSets and records the revision', () => {
    const pod = admit(unitPod(), [exporter]);
    expect(names(pod)).toEqual(['mysql', 'mysqld-exporter']);
    expect(names(pod, 'volumes')).toEqual(['data', 'exporter-config']);
    expect(JSON.parse(pod.metadata.annotations![injectedAnnotation]!)).toEqual({
      'mysql-exporter': {
        revision: sidecarSetRevision(exporter.spec),
        containers: ['mysqld-exporter'],
        volumes: ['exporter-config'],
      },
    });
  });

  it('changes nothing on a second pass (reinvocation, a re-sent Pod)', () => {
    const once = admit(unitPod(), [exporter, logShipper]);
    const res = reviewPodInjection(admissionRequest(once), [exporter, logShipper], {});
    expect(res).toEqual({ uid: 'u1', allowed: true });
  });

  it('does not re-inject a SidecarSet whose revision changed: the Pod keeps running as it is', () => {
    const once = admit(unitPod(), [exporter]);
    const bumped: SidecarSetInput = {
      ...exporter,
      spec: { ...exporter.spec, containers: [{ name: 'mysqld-exporter', image: 'prom/mysqld-exporter:v0.16.0' }] },
    };
    expect(sidecarSetRevision(bumped.spec)).not.toBe(sidecarSetRevision(exporter.spec));
    expect(admit(once, [bumped])).toEqual(once);
    // A replacement Pod (created without the annotation) gets the new revision.
    const replacement = admit(unitPod(), [bumped]);
    expect((replacement['spec'] as any).containers[1].image).toBe('prom/mysqld-exporter:v0.16.0');
  });

  it('orders by priority and position, shares the main container volumes when asked', () => {
    const pod = admit(unitPod(), [exporter, logShipper]);
    expect(names(pod)).toEqual(['fluent-bit', 'mysql', 'mysqld-exporter']);
    expect(names(pod, 'initContainers')).toEqual(['log-init']);
    expect((pod['spec'] as any).containers[0].volumeMounts).toEqual([{ name: 'data', mountPath: '/var/lib/mysql' }]);
  });

  it('leaves opted-out Pods, Pods of no Unit and excluded SidecarSets alone', () => {
    const optedOut = unitPod({ annotations: { 'sidecarset.upm.io/inject': 'false' } });
    expect(injectSidecars(optedOut, [exporter], {})).toMatchObject({
      pod: optedOut,
      injected: [],
      skipped: 'opted-out',
    });
    const plain: KubeObject = {
      ...unitPod(),
      metadata: { name: 'web', namespace: 'default', labels: { 'upm.io/type': 'mysql' } },
    };
    expect(injectSidecars(plain, [exporter], {})).toMatchObject({ injected: [], skipped: 'not-selected' });
    const optedIn = { ...plain, metadata: { ...plain.metadata, annotations: { 'sidecarset.upm.io/inject': 'true' } } };
    expect(injectSidecars(optedIn, [exporter], {}).injected).toEqual(['mysql-exporter']);
    const excluded = unitPod({ annotations: { 'sidecarset.upm.io/exclude': 'log-shipper, mysql-exporter' } });
    expect(injectSidecars(excluded, [exporter, logShipper], {}).injected).toEqual([]);
  });

  it('honours the namespace selector', () => {
    const sds: SidecarSetInput = {
      ...exporter,
      spec: { ...exporter.spec, namespaceSelector: { matchLabels: { env: 'prod' } } },
    };
    expect(injectSidecars(unitPod(), [sds], { env: 'dev' }).injected).toEqual([]);
    expect(injectSidecars(unitPod(), [sds], { env: 'prod' }).injected).toEqual(['mysql-exporter']);
  });

  it('skips a container whose name the Pod already has, with a warning, and keeps the Pod’s volume', () => {
    const clash: SidecarSetInput = {
      name: 'clash',
      spec: {
        selector: {},
        containers: [
          { name: 'mysql', image: 'x' },
          { name: 'ok', image: 'y' },
        ],
        volumes: [{ name: 'data', emptyDir: {} }],
      },
    };
    const result = injectSidecars(unitPod(), [clash], {});
    expect(result.warnings).toEqual([
      'SidecarSet clash: the Pod already has a container named mysql; it was not injected',
    ]);
    expect(names(result.pod)).toEqual(['mysql', 'ok']);
    expect((result.pod['spec'] as any).volumes).toEqual([
      { name: 'data', persistentVolumeClaim: { claimName: 'db-0-data' } },
    ]);
  });

  it('does nothing for updates', () => {
    const req = { ...admissionRequest(unitPod()), operation: 'UPDATE' as const, oldObject: unitPod() };
    expect(reviewPodInjection(req, [exporter], {})).toEqual({ uid: 'u1', allowed: true });
  });

  it('injects into a Pod without annotations or volumes (the patch adds the maps and lists)', () => {
    const pod = unitPod();
    delete (pod['spec'] as any).volumes;
    (pod['spec'] as any).containers[0].volumeMounts = undefined;
    delete (pod['spec'] as any).containers[0].volumeMounts;
    const res = reviewPodInjection(admissionRequest(pod), [exporter], {});
    const ops = JSON.parse(Buffer.from(res.patch!, 'base64').toString('utf8'));
    expect(ops).toEqual([
      { op: 'add', path: '/metadata/annotations', value: { [injectedAnnotation]: expect.any(String) } },
      {
        op: 'add',
        path: '/spec/containers/-',
        value: { name: 'mysqld-exporter', image: 'prom/mysqld-exporter:v0.15.1' },
      },
      { op: 'add', path: '/spec/volumes', value: [{ name: 'exporter-config', configMap: { name: 'exporter' } }] },
    ]);
  });
});
