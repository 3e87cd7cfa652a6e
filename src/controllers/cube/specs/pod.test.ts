import type { V1PodSpec } from '@kubernetes/client-node';
import type { Unit } from '../../../api/generated/types.js';
import { renderConfig } from './config.js';
import { claimOwnerReferences, pod, pvcs } from './pod.js';
import { unitsFor } from './units.js';
import { testTemplate, testUnitSet } from './testing/fixtures.js';

function unitAndPod(edit: (u: Unit) => void = () => {}) {
  const template = testTemplate();
  const unit = unitsFor(testUnitSet(), template).units[2];
  unit.metadata.uid = 'unit-uid';
  edit(unit);
  const result = renderConfig(unit, template);
  if (!result.ok) throw new Error('render failed');
  return { unit, config: result.config, pod: pod(unit, template, result.config) };
}

describe('pod', () => {
  it('is named like the Unit, owned by it, with identity labels and revision annotations', () => {
    const { pod: p, config } = unitAndPod();
    expect(p.metadata?.name).toBe('orders-2');
    expect(p.metadata?.namespace).toBe('shop');
    expect(p.metadata?.labels).toMatchObject({
      app: 'db',
      'upm.io/unitset': 'orders',
      'upm.io/unit': 'orders-2',
      'upm.io/ordinal': '2',
      'upm.io/in-service': 'true',
    });
    expect(p.metadata?.annotations).toMatchObject({
      'kubectl.kubernetes.io/default-container': 'mariadb',
      'upm.io/config-revision': config.revision,
      'upm.io/restart-parameters': '{"lower_case_table_names":"0","performance_schema":"false"}',
    });
    expect(p.metadata?.annotations?.['upm.io/restart-revision']).toMatch(/^[0-9a-f]{10}-[0-9a-f]{10}$/);
    expect(p.metadata?.ownerReferences).toEqual([
      {
        apiVersion: 'upm.io/v1alpha1',
        kind: 'Unit',
        name: 'orders-2',
        uid: 'unit-uid',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
  });

  it('gets a stable DNS name through the headless Service', () => {
    const spec = unitAndPod().pod.spec as V1PodSpec;
    expect(spec.hostname).toBe('orders-2');
    expect(spec.subdomain).toBe('orders-headless');
  });

  it('puts the downward-API environment first in every container, so $(POD_IP) expands everywhere', () => {
    const spec = unitAndPod().pod.spec as V1PodSpec;
    for (const c of spec.containers) {
      expect(c.env?.slice(0, 7)).toEqual([
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
        { name: 'UNIT_NAME', value: 'orders-2' },
        { name: 'UNIT_ORDINAL', value: '2' },
        { name: 'UNITSET_NAME', value: 'orders' },
      ]);
    }
    expect(spec.containers[0].env?.slice(7, 9)).toEqual([
      { name: 'TZ', value: 'UTC' },
      { name: 'MODE', value: 'template' },
    ]);
  });

  it('mounts the claims and the rendered files, and sets the main container resources', () => {
    const spec = unitAndPod().pod.spec as V1PodSpec;
    expect(spec.volumes).toEqual([
      { name: 'tmp', emptyDir: { sizeLimit: '1Gi' } },
      expect.objectContaining({ name: 'credentials-admin' }),
      { name: 'data', persistentVolumeClaim: { claimName: 'orders-2-data' } },
      { name: 'upm-config', configMap: { name: 'orders-2-config', items: [{ key: 'my.cnf', path: 'my.cnf' }] } },
    ]);
    const main = spec.containers.find((c) => c.name === 'mariadb')!;
    expect(main.volumeMounts).toContainEqual({ name: 'upm-config', mountPath: '/etc/mysql/conf.d', readOnly: true });
    expect(main.volumeMounts).toContainEqual({ name: 'data', mountPath: '/var/lib/mysql' });
    expect(main.resources).toEqual({ requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '2', memory: '2Gi' } });
    const exporter = spec.containers.find((c) => c.name === 'metrics')!;
    expect(exporter.volumeMounts?.some((m) => m.name === 'upm-config')).toBe(false);
  });

  it('leaves the client Services when the Unit is taken out of service', () => {
    const { pod: p } = unitAndPod((u) => (u.spec.unservice = true));
    expect(p.metadata?.labels?.['upm.io/in-service']).toBeUndefined();
  });

  it('is the same for the same Unit, and differs in the restart revision when the image changes', () => {
    expect(unitAndPod().pod).toEqual(unitAndPod().pod);
    const a = unitAndPod().pod.metadata?.annotations?.['upm.io/restart-revision'];
    const b = unitAndPod((u) => ((u.spec.podTemplate.spec as any).containers[0].image = 'mariadb:10.11.9')).pod.metadata
      ?.annotations?.['upm.io/restart-revision'];
    expect(b).not.toBe(a);
    expect(b!.split('-')[1]).toBe(a!.split('-')[1]);
  });
});

describe('pvcs', () => {
  it('has one claim per volume, without owner while the claims are retained', () => {
    const { unit } = unitAndPod();
    expect(pvcs(unit)).toEqual([
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: {
          name: 'orders-2-data',
          namespace: 'shop',
          labels: { 'upm.io/unit': 'orders-2', 'upm.io/volume': 'data', 'upm.io/unitset': 'orders' },
        },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } },
      },
    ]);
  });

  it('is owned by the Unit when the Unit deletes its claims', () => {
    const { unit } = unitAndPod((u) => (u.spec.volumeClaimRetentionPolicy = 'Delete'));
    expect(pvcs(unit)[0].metadata?.ownerReferences).toEqual([
      {
        apiVersion: 'upm.io/v1alpha1',
        kind: 'Unit',
        name: 'orders-2',
        uid: 'unit-uid',
        controller: false,
        blockOwnerDeletion: true,
      },
    ]);
  });

  it('gives the owner references an existing claim needs, keeping foreign owners', () => {
    const foreign = { apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'other' };
    const { unit: retain } = unitAndPod();
    const { unit: del } = unitAndPod((u) => (u.spec.volumeClaimRetentionPolicy = 'Delete'));
    const owned = claimOwnerReferences(del, [foreign]);
    expect(owned).toEqual([foreign, expect.objectContaining({ kind: 'Unit', uid: 'unit-uid' })]);
    expect(claimOwnerReferences(retain, owned)).toEqual([foreign]);
  });
});
