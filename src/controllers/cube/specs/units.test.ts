import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import type { Unit } from '../../../api/generated/types.js';
import { renderUnitTemplate, unitsFor } from './units.js';
import { testTemplate, testUnitSet } from './testing/fixtures.js';

const podSpec = (unit: Unit) => unit.spec.podTemplate.spec as unknown as V1PodSpec;
const container = (unit: Unit, name: string) => podSpec(unit).containers.find((c) => c.name === name) as V1Container;

describe('unitsFor', () => {
  it('gives one Unit <name>-<ordinal> per ordinal, owned by the UnitSet', () => {
    const { units, revision, problems } = unitsFor(testUnitSet(), testTemplate());
    expect(problems).toEqual([]);
    expect(units.map((u) => u.metadata.name)).toEqual(['orders-0', 'orders-1', 'orders-2']);
    const u = units[1];
    expect(u.metadata.namespace).toBe('shop');
    expect(u.metadata.labels).toEqual({
      team: 'payments',
      'upm.io/unitset': 'orders',
      'upm.io/unit': 'orders-1',
      'upm.io/ordinal': '1',
      'upm.io/type': 'mariadb',
      'upm.io/version': '10.11.8',
      'upm.io/revision': revision,
    });
    expect(u.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'upm.io/v1alpha1',
        kind: 'UnitSet',
        name: 'orders',
        uid: 'unitset-uid',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(u.spec.unitTemplate).toBe('mariadb-community-10.11.8');
    expect(u.spec.mainContainer).toBe('mariadb');
    expect(u.spec.podTemplate.metadata?.labels).toMatchObject({
      app: 'db',
      'upm.io/unit': 'orders-1',
      'upm.io/ordinal': '1',
    });
  });

  it('sets parameter values to the template defaults overlaid by the UnitSet', () => {
    const { units } = unitsFor(testUnitSet({ config: { parameters: { max_connections: '500' } } }), testTemplate());
    expect(units[0].spec.config?.parameters).toEqual({
      binlog_format: 'ROW',
      lower_case_table_names: '0',
      max_connections: '500',
      performance_schema: 'false',
    });
  });

  it('reports unknown parameters and values out of range, and keeps the defaults for them', () => {
    const { problems, units } = unitsFor(
      testUnitSet({ config: { parameters: { max_connections: '5', nope: '1', binlog_format: 'STATEMENT' } } }),
      testTemplate(),
    );
    expect(problems).toEqual([
      {
        reason: 'InvalidParameterValue',
        parameter: 'binlog_format',
        message: 'binlog_format="STATEMENT": must be one of ROW, MIXED',
      },
      {
        reason: 'InvalidParameterValue',
        parameter: 'max_connections',
        message: 'max_connections="5": below the minimum 10',
      },
      {
        reason: 'UnknownParameter',
        parameter: 'nope',
        message: 'parameter "nope" is not defined by UnitTemplate mariadb-community-10.11.8',
      },
    ]);
    expect(units[0].spec.config?.parameters?.max_connections).toBe('1024');
  });

  it('merges resources per name over the template defaults', () => {
    const { units } = unitsFor(testUnitSet({ resources: { limits: { memory: '4Gi' } } }), testTemplate());
    expect(units[0].spec.resources).toEqual({
      requests: { cpu: '500m', memory: '1Gi' },
      limits: { cpu: '2', memory: '4Gi' },
    });
  });

  it('declares a claim per persistent volume with the UnitSet size and class', () => {
    const us = testUnitSet({
      storage: {
        volumes: [{ name: 'data', size: '50Gi', storageClassName: 'fast' }],
        persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Delete', whenScaled: 'Retain' },
      },
    });
    const { units } = unitsFor(us, testTemplate());
    expect(units[0].spec.volumeClaimTemplates).toEqual([{ name: 'data', size: '50Gi', storageClassName: 'fast' }]);
    expect(units[0].spec.volumeClaimRetentionPolicy).toBe('Delete');
    expect(unitsFor(testUnitSet(), testTemplate()).units[0].spec.volumeClaimRetentionPolicy).toBe('Retain');
  });

  it('mounts the volumes and credentials in every container and adds the exporter', () => {
    const { units } = unitsFor(testUnitSet(), testTemplate());
    const spec = podSpec(units[0]);
    expect(spec.containers.map((c) => c.name)).toEqual(['mariadb', 'metrics']);
    for (const c of spec.containers) {
      expect(c.volumeMounts).toEqual([
        { name: 'data', mountPath: '/var/lib/mysql' },
        { name: 'tmp', mountPath: '/tmp' },
        { name: 'credentials-admin', mountPath: '/etc/upm/credentials/admin', readOnly: true },
      ]);
      expect(c.env).toContainEqual({ name: 'DATA_MOUNT', value: '/var/lib/mysql' });
      expect(c.env).toContainEqual({
        name: 'ADMIN_USER',
        valueFrom: { secretKeyRef: { name: 'orders-admin', key: 'username' } },
      });
    }
    expect(spec.volumes).toEqual([
      { name: 'tmp', emptyDir: { sizeLimit: '1Gi' } },
      {
        name: 'credentials-admin',
        secret: {
          secretName: 'orders-admin',
          items: [
            { key: 'username', path: 'username' },
            { key: 'password', path: 'password' },
          ],
        },
      },
    ]);
    const noExporter = unitsFor(testUnitSet({ monitoring: { exporter: { enabled: false } } }), testTemplate());
    expect(podSpec(noExporter.units[0]).containers.map((c) => c.name)).toEqual(['mariadb']);
  });

  it('reads credentials from the Secret the UnitSet names', () => {
    const us = testUnitSet({
      credentials: [{ name: 'admin', secretRef: { name: 'root-pw', usernameKey: 'user', passwordKey: 'pw' } }],
    });
    const spec = podSpec(unitsFor(us, testTemplate()).units[0]);
    expect(spec.volumes?.find((v) => v.name === 'credentials-admin')?.secret).toEqual({
      secretName: 'root-pw',
      items: [
        { key: 'user', path: 'username' },
        { key: 'pw', path: 'password' },
      ],
    });
  });

  it('replaces template env of the same name with the UnitSet env and appends the rest', () => {
    const us = testUnitSet({
      env: [
        { name: 'MODE', value: 'unitset' },
        { name: 'EXTRA', value: '1' },
      ],
    });
    const env = container(unitsFor(us, testTemplate()).units[0], 'mariadb').env;
    expect(env?.map((e) => `${e.name}=${e.value ?? ''}`)).toEqual([
      'TZ=UTC',
      'MODE=unitset',
      'DATA_MOUNT=/var/lib/mysql',
      'ADMIN_USER=',
      'EXTRA=1',
    ]);
  });

  it('merges scheduling into the template affinity: soft or hard spreading, node requirements ANDed', () => {
    const template = testTemplate();
    (template.spec.podTemplate.spec as any).affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] }],
        },
      },
    };
    (template.spec.podTemplate.spec as any).tolerations = [{ key: 'db', operator: 'Exists' }];
    const soft = podSpec(
      unitsFor(
        testUnitSet({
          scheduling: {
            nodeAffinity: [{ key: 'zone', operator: 'In', values: ['a'] }],
            tolerations: [
              { key: 'db', operator: 'Exists' },
              { key: 'x', operator: 'Exists' },
            ],
            priorityClassName: 'high',
          },
        }),
        template,
      ).units[0],
    );
    expect(soft.affinity?.podAntiAffinity).toEqual({
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: {
            labelSelector: { matchLabels: { 'upm.io/unitset': 'orders' } },
            topologyKey: 'kubernetes.io/hostname',
          },
        },
      ],
    });
    expect(soft.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms).toEqual([
      {
        matchExpressions: [
          { key: 'disk', operator: 'In', values: ['ssd'] },
          { key: 'zone', operator: 'In', values: ['a'] },
        ],
      },
    ]);
    expect(soft.tolerations).toEqual([
      { key: 'db', operator: 'Exists' },
      { key: 'x', operator: 'Exists' },
    ]);
    expect(soft.priorityClassName).toBe('high');

    const hard = podSpec(
      unitsFor(testUnitSet({ scheduling: { podAntiAffinity: 'Required', topologyKey: 'zone' } }), template).units[0],
    );
    expect(hard.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution).toEqual([
      { labelSelector: { matchLabels: { 'upm.io/unitset': 'orders' } }, topologyKey: 'zone' },
    ]);
    const none = podSpec(unitsFor(testUnitSet({ scheduling: { podAntiAffinity: 'None' } }), testTemplate()).units[0]);
    expect(none.affinity).toBeUndefined();
  });

  it('adds the UnitSet pod metadata and the identity labels to the Pod template', () => {
    const us = testUnitSet({ podMetadata: { labels: { tier: 'gold' }, annotations: { note: 'x' } } });
    const meta = unitsFor(us, testTemplate()).units[0].spec.podTemplate.metadata;
    expect(meta?.labels).toMatchObject({
      app: 'db',
      tier: 'gold',
      'upm.io/unitset': 'orders',
      'upm.io/type': 'mariadb',
    });
    expect(meta?.annotations).toEqual({ note: 'x', 'kubectl.kubernetes.io/default-container': 'mariadb' });
  });

  it('never changes its inputs', () => {
    const us = testUnitSet({ env: [{ name: 'A', value: '1' }] });
    const template = testTemplate();
    const before = JSON.stringify([us, template]);
    unitsFor(us, template);
    expect(JSON.stringify([us, template])).toBe(before);
  });
});

describe('revision', () => {
  const shuffle = <T>(v: T): T => {
    if (Array.isArray(v)) return v.map(shuffle) as T;
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v)
          .reverse()
          .map(([k, x]) => [k, shuffle(x)]),
      ) as T;
    }
    return v;
  };

  it('is the same whatever the key order of the UnitSet and the template', () => {
    const a = renderUnitTemplate(testUnitSet({ config: { parameters: { max_connections: '600' } } }), testTemplate());
    const b = renderUnitTemplate(
      shuffle(testUnitSet({ config: { parameters: { max_connections: '600' } } })),
      shuffle(testTemplate()),
    );
    expect(b.revision).toBe(a.revision);
    expect(a.revision).toMatch(/^[0-9a-f]{10}$/);
  });

  it('does not depend on the number of Units or on metadata outside the spec', () => {
    const a = renderUnitTemplate(testUnitSet(), testTemplate()).revision;
    const other = testUnitSet({ units: 7 });
    other.metadata.generation = 9;
    expect(renderUnitTemplate(other, testTemplate()).revision).toBe(a);
  });

  it('changes with the image, a parameter, the resources and the config file templates', () => {
    const base = renderUnitTemplate(testUnitSet(), testTemplate()).revision;
    const image = testTemplate();
    (image.spec.podTemplate.spec as any).containers[0].image = 'mariadb:10.11.9';
    const file = testTemplate();
    file.spec.configFiles![0].template += '# more\n';
    const revisions = [
      renderUnitTemplate(testUnitSet(), image).revision,
      renderUnitTemplate(testUnitSet({ config: { parameters: { max_connections: '2000' } } }), testTemplate()).revision,
      renderUnitTemplate(testUnitSet({ resources: { limits: { memory: '8Gi' } } }), testTemplate()).revision,
      renderUnitTemplate(testUnitSet(), file).revision,
    ];
    expect(new Set([base, ...revisions]).size).toBe(5);
  });
});
