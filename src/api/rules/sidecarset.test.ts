import type { KubeObject } from '../../machinery/object.js';
import type { UnitTemplateSpec } from '../generated/types.js';
import { validateSidecarSet, validateSidecarSetAgainstTemplates } from './sidecarset.js';
import { lines } from './testing/lines.js';

function sidecarSet(spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'SidecarSet',
    metadata: { name: 'exporter' },
    spec: {
      selector: { matchLabels: { 'upm.io/type': 'mysql' } },
      containers: [
        {
          name: 'mysqld-exporter',
          image: 'prom/mysqld-exporter:v0.15.1',
          ports: [{ name: 'metrics', containerPort: 9104 }],
        },
      ],
      ...spec,
    },
  };
}

const mysql: UnitTemplateSpec = {
  type: 'mysql',
  version: '8.0.36',
  podTemplate: {
    spec: {
      containers: [
        { name: 'mysql', image: 'mysql', ports: [{ containerPort: 3306 }] },
        { name: 'unit-agent', image: 'agent', ports: [{ containerPort: 2214 }] },
      ],
      volumes: [{ name: 'scripts', configMap: { name: 'x' } }],
    },
  },
  volumes: [{ name: 'data', mountPath: '/var/lib/mysql' }],
  configFiles: [{ name: 'my.cnf', mountPath: '/etc/mysql', format: 'ini', template: '' }],
  exporter: { container: { name: 'exporter', image: 'e' }, port: 9105 },
};
const redis: UnitTemplateSpec = {
  type: 'redis',
  version: '7.2.4',
  podTemplate: { spec: { containers: [{ name: 'redis', image: 'redis', ports: [{ containerPort: 9104 }] }] } },
};

describe('SidecarSet rules on their own', () => {
  it('accept a SidecarSet whose containers may mount the Pod’s volumes', () => {
    const s = sidecarSet();
    (s['spec'] as any).containers[0].volumeMounts = [{ name: 'data', mountPath: '/data' }];
    expect(validateSidecarSet(s)).toEqual([]);
  });

  it('check names, images, ports, volumes and selectors', () => {
    const s = sidecarSet({
      containers: [
        { name: 'a', image: 'a', ports: [{ containerPort: 80 }] },
        { name: 'a', image: '', ports: [{ containerPort: 80 }] },
      ],
      volumes: [{ name: 'v' }, { name: 'v' }],
      selector: { matchExpressions: [{ key: 'upm.io/type', operator: 'Has' }] },
    });
    expect(lines(validateSidecarSet(s))).toEqual([
      'spec.containers[1].name: Duplicate value: "a"',
      'spec.containers[1].image: Required value',
      'spec.containers[1].ports[0].containerPort: Duplicate value: 80: another container of the Pod uses this port',
      'spec.volumes[1].name: Duplicate value: "v"',
      'spec.selector: Invalid value: {"matchExpressions":[{"key":"upm.io/type","operator":"Has"}]}: "Has" is not a valid label selector operator',
    ]);
  });
});

describe('SidecarSet rules against the UnitTemplates it matches', () => {
  const templates = [
    { name: 'mysql-community-8.0.36', spec: mysql },
    { name: 'redis-community-7.2.4', spec: redis },
  ];

  it('accept a SidecarSet that collides with nothing', () => {
    expect(validateSidecarSetAgainstTemplates(sidecarSet(), templates)).toEqual([]);
  });

  it('report container, port and volume collisions with the matched templates only', () => {
    const s = sidecarSet({
      containers: [
        { name: 'unit-agent', image: 'x', ports: [{ containerPort: 3306 }] },
        { name: 'exporter', image: 'x', ports: [{ containerPort: 9104 }, { containerPort: 2214 }] },
      ],
      volumes: [
        { name: 'data', emptyDir: {} },
        { name: 'scripts', emptyDir: {} },
      ],
    });
    expect(lines(validateSidecarSetAgainstTemplates(s, templates))).toEqual([
      'spec.containers[0].name: Duplicate value: "unit-agent": UnitTemplate "mysql-community-8.0.36" has a container of that name',
      'spec.containers[1].name: Duplicate value: "exporter": UnitTemplate "mysql-community-8.0.36" has a container of that name',
      'spec.containers[0].ports[0].containerPort: Duplicate value: 3306: a container of UnitTemplate "mysql-community-8.0.36" uses this port',
      'spec.containers[1].ports[1].containerPort: Duplicate value: 2214: a container of UnitTemplate "mysql-community-8.0.36" uses this port',
      'spec.volumes[0].name: Duplicate value: "data": UnitTemplate "mysql-community-8.0.36" has a volume of that name',
      'spec.volumes[1].name: Duplicate value: "scripts": UnitTemplate "mysql-community-8.0.36" has a volume of that name',
    ]);
  });

  it('match templates by type and version labels, ignoring the per-Unit labels', () => {
    const all = sidecarSet({ selector: { matchExpressions: [{ key: 'upm.io/unitset', operator: 'Exists' }] } });
    expect(lines(validateSidecarSetAgainstTemplates(all, templates))).toEqual([
      'spec.containers[0].ports[0].containerPort: Duplicate value: 9104: a container of UnitTemplate "redis-community-7.2.4" uses this port',
    ]);
    const none = sidecarSet({ selector: { matchLabels: { 'upm.io/version': '9' } } });
    expect(validateSidecarSetAgainstTemplates(none, templates)).toEqual([]);
  });
});
