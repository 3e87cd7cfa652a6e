import type { KubeObject } from '../../machinery/object.js';
import { lines } from './testing/lines.js';
import { validateUnitTemplate } from './unittemplate.js';

function template(spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'UnitTemplate',
    metadata: { name: 'mysql-community-8.0.36' },
    spec: {
      type: 'mysql',
      version: '8.0.36',
      podTemplate: {
        spec: {
          containers: [
            { name: 'mysql', image: 'mysql:8.0.36', ports: [{ name: 'mysql', containerPort: 3306 }] },
            { name: 'unit-agent', image: 'upm/unit-agent:1.0', ports: [{ name: 'agent', containerPort: 2214 }] },
          ],
        },
      },
      volumes: [{ name: 'data', mountPath: '/var/lib/mysql', size: '10Gi' }],
      parameters: [
        { name: 'max_connections', type: 'integer', default: '1000', minimum: 1, maximum: 100000, dynamic: true },
        { name: 'buffer_pool', type: 'quantity', default: '128Mi' },
      ],
      configFiles: [
        {
          name: 'mysql.cnf',
          mountPath: '/etc/mysql',
          format: 'ini',
          template:
            '[mysqld]\nmax_connections = {{ .Parameters.max_connections }}\n' +
            'innodb_buffer_pool_size = {{ bytes .Parameters.buffer_pool }}\nserver-id = {{ add .Unit.ordinal 1 }}\n',
        },
      ],
      ...spec,
    },
  };
}

function spec(obj: KubeObject): Record<string, any> {
  return obj['spec'] as Record<string, any>;
}

describe('UnitTemplate rules', () => {
  it('accept a complete template and the smallest one', () => {
    expect(lines(validateUnitTemplate(template()))).toEqual([]);
    const minimal = template({ configFiles: undefined, parameters: undefined, volumes: undefined });
    spec(minimal)['podTemplate'] = { spec: { containers: [{ name: 'mysql', image: 'mysql:8.0.36' }] } };
    expect(lines(validateUnitTemplate(minimal))).toEqual([]);
  });

  it('map what a renderer reports to the config file, and check the rendered format', () => {
    const t = template();
    spec(t)['configFiles'].push({ name: 'b.json', mountPath: '/etc/b', format: 'json', template: 'x' });
    const failing = () => ({ problems: [{ file: 'b.json', message: 'b.json:3: parameter "y" has no value' }] });
    expect(lines(validateUnitTemplate(t, failing))).toEqual([
      'spec.configFiles[1].template: Invalid value: b.json does not render with the parameter defaults: b.json:3: parameter "y" has no value',
    ]);
    const rendered = () => ({ files: { 'mysql.cnf': '[mysqld\n', 'b.json': '{"a": }' } });
    expect(lines(validateUnitTemplate(t, rendered))).toEqual([
      'spec.configFiles[0].template: Invalid value: mysql.cnf: the rendered file is not valid ini: line 1: [mysqld',
      expect.stringMatching(
        /^spec.configFiles\[1\].template: Invalid value: b.json: the rendered file is not valid json: /,
      ),
    ]);
  });

  it('reject two configuration files written to the same path', () => {
    const t = template();
    spec(t)['configFiles'].push({ ...spec(t)['configFiles'][0], mountPath: '/etc/mysql/' });
    expect(lines(validateUnitTemplate(t))).toEqual([
      'spec.configFiles[1].name: Duplicate value: "mysql.cnf": another configuration file is written to /etc/mysql/mysql.cnf',
    ]);
  });

  it('require the main container, named by spec.mainContainer or spec.type', () => {
    const t = template({ type: 'mariadb' });
    expect(lines(validateUnitTemplate(t))).toEqual([
      'spec.podTemplate.spec.containers: Required value: no container named "mariadb": the main container is named after spec.type unless spec.mainContainer says otherwise',
    ]);
    spec(t)['mainContainer'] = 'mysqld';
    expect(lines(validateUnitTemplate(t))).toEqual([
      'spec.mainContainer: Not found: "mysqld": no container of that name in spec.podTemplate.spec.containers',
    ]);
    spec(t)['mainContainer'] = 'mysql';
    expect(lines(validateUnitTemplate(t))).toEqual([]);
  });

  it('check the Pod template: container names, images, ports and volume mounts', () => {
    const t = template();
    spec(t)['podTemplate'].spec = {
      containers: [
        {
          name: 'mysql',
          image: 'mysql:8',
          ports: [{ containerPort: 3306, name: 'db' }],
          volumeMounts: [{ name: 'data', mountPath: '/x' }],
        },
        { name: 'unit-agent', image: '', ports: [{ containerPort: 3306, name: 'db' }, { containerPort: 70000 }] },
        { name: 'Bad_Name', image: 'x', volumeMounts: [{ name: 'nowhere', mountPath: '/y' }] },
      ],
      initContainers: [{ name: 'mysql', image: 'init' }],
    };
    expect(lines(validateUnitTemplate(t))).toEqual([
      'spec.podTemplate.spec.containers[0].name: Duplicate value: "mysql"',
      'spec.podTemplate.spec.containers[1].image: Required value',
      'spec.podTemplate.spec.containers[1].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
      expect.stringMatching(
        /^spec.podTemplate.spec.containers\[2\].name: Invalid value: "Bad_Name": a lowercase RFC 1123 label/,
      ),
      'spec.podTemplate.spec.containers[1].ports[0].name: Duplicate value: "db"',
      'spec.podTemplate.spec.containers[1].ports[0].containerPort: Duplicate value: 3306: another container of the Pod uses this port',
      'spec.podTemplate.spec.containers[2].volumeMounts[0].name: Not found: "nowhere": no volume of that name in the Pod',
      'spec.podTemplate.spec.containers[0].volumeMounts[0].name: Forbidden: volume "data" of spec.volumes is mounted into every container by the controller, at its spec.volumes mountPath',
    ]);
  });

  it('check the exporter against the Pod template', () => {
    const t = template({
      exporter: { container: { name: 'unit-agent', image: 'exporter' }, port: 2214, path: '/metrics' },
    });
    expect(lines(validateUnitTemplate(t))).toEqual([
      'spec.exporter.container.name: Duplicate value: "unit-agent": spec.podTemplate.spec has a container of that name',
      'spec.exporter.port: Duplicate value: 2214: spec.podTemplate.spec.containers[1].ports[0] uses it',
    ]);
  });

  it('check volumes, credentials and resources', () => {
    const t = template({
      volumes: [
        { name: 'data', mountPath: '/a', size: '10Gi' },
        { name: 'data', mountPath: '/b', size: '0' },
      ],
      credentials: [{ name: 'admin' }, { name: 'admin' }],
      resources: { requests: { cpu: '2', memory: 'lots' }, limits: { cpu: '1' } },
    });
    expect(lines(validateUnitTemplate(t))).toEqual([
      'spec.volumes[1].name: Duplicate value: "data"',
      'spec.volumes[1].size: Invalid value: "0": must be a positive quantity, for example 10Gi',
      'spec.resources.requests[memory]: Invalid value: "lots": must be a quantity, for example 500m or 2Gi',
      'spec.resources.requests[cpu]: Invalid value: "2": must be less than or equal to cpu limit of 1',
      'spec.credentials[1].name: Duplicate value: "admin"',
    ]);
  });
});
