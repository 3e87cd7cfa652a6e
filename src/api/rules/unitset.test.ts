import type { KubeObject } from '../../machinery/object.js';
import type { UnitTemplateSpec } from '../generated/types.js';
import { lines } from './testing/lines.js';
import { validateUnitSet, validateUnitSetTemplate, validateUnitSetUpdate } from './unitset.js';

function unitSet(spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'UnitSet',
    metadata: { name: 'db', namespace: 'default' },
    spec: {
      type: 'mysql',
      edition: 'community',
      version: '8.0.36',
      template: 'mysql-community-8.0.36',
      units: 3,
      storage: { volumes: [{ name: 'data', size: '20Gi' }] },
      ...spec,
    },
  };
}

const template: UnitTemplateSpec = {
  type: 'mysql',
  edition: 'community',
  version: '8.0.36',
  podTemplate: { spec: { containers: [{ name: 'mysql', image: 'mysql' }] } },
  volumes: [
    { name: 'data', mountPath: '/var/lib/mysql', type: 'Persistent' },
    { name: 'tmp', mountPath: '/tmp', type: 'EmptyDir' },
  ],
  credentials: [{ name: 'admin' }],
  parameters: [
    { name: 'max_connections', type: 'integer', minimum: 1, maximum: 10000 },
    { name: 'lower_case_table_names', type: 'enum', allowedValues: ['0', '1'], immutable: true },
  ],
};

describe('UnitSet rules on their own', () => {
  it('accept a plain UnitSet', () => {
    expect(validateUnitSet(unitSet())).toEqual([]);
  });

  it('check resources, storage sizes and unique names', () => {
    const us = unitSet({
      resources: { requests: { memory: '4Gi' }, limits: { memory: '2Gi' } },
      storage: {
        volumes: [
          { name: 'data', size: '10Gi' },
          { name: 'data', size: '-1Gi' },
        ],
      },
      env: [{ name: 'A' }, { name: 'A' }],
    });
    expect(lines(validateUnitSet(us))).toEqual([
      'spec.resources.requests[memory]: Invalid value: "4Gi": must be less than or equal to memory limit of 2Gi',
      'spec.storage.volumes[1].name: Duplicate value: "data"',
      'spec.storage.volumes[1].size: Invalid value: "-1Gi": must be a positive quantity, for example 20Gi',
      'spec.env[1].name: Duplicate value: "A"',
    ]);
  });
});

describe('UnitSet rules on update', () => {
  it('keep type and edition and let storage grow but not shrink', () => {
    const old = unitSet();
    expect(validateUnitSetUpdate(unitSet({ storage: { volumes: [{ name: 'data', size: '40Gi' }] } }), old)).toEqual([]);
    expect(
      lines(
        validateUnitSetUpdate(
          unitSet({
            type: 'redis',
            edition: 'enterprise',
            storage: { volumes: [{ name: 'data', size: '10Gi', storageClassName: 'fast' }] },
          }),
          old,
        ),
      ),
    ).toEqual([
      'spec.type: Invalid value: "redis": field is immutable',
      'spec.edition: Invalid value: "enterprise": field is immutable',
      'spec.storage.volumes[0].storageClassName: Invalid value: "fast": field is immutable',
      'spec.storage.volumes[0].size: Forbidden: volumes can grow but not shrink: 20Gi → 10Gi',
    ]);
  });
});

describe('UnitSet rules against its UnitTemplate', () => {
  it('accept a UnitSet that fits its template', () => {
    const us = unitSet({
      config: { parameters: { max_connections: '500', lower_case_table_names: '1' } },
      credentials: [{ name: 'admin', secretRef: { name: 's' } }],
    });
    expect(validateUnitSetTemplate(us, undefined, { template })).toEqual({ errors: [], warnings: [] });
  });

  it('reject a missing template named explicitly, and warn when the conventional one is missing', () => {
    expect(
      lines(validateUnitSetTemplate(unitSet({ template: 'mysql-custom' }), undefined, { template: undefined }).errors),
    ).toEqual(['spec.template: Not found: "mysql-custom": no UnitTemplate named "mysql-custom"']);
    expect(validateUnitSetTemplate(unitSet(), undefined, { template: undefined })).toEqual({
      errors: [],
      warnings: [
        'spec.template: UnitTemplate "mysql-community-8.0.36" does not exist yet; no Unit is created until it does',
      ],
    });
  });

  it('reject a template of another type, edition or version', () => {
    const other: UnitTemplateSpec = { ...template, type: 'mariadb', edition: 'enterprise', version: '10.11' };
    expect(lines(validateUnitSetTemplate(unitSet(), undefined, { template: other }).errors)).toEqual([
      'spec.template: Invalid value: "mysql-community-8.0.36": UnitTemplate is of type "mariadb", not "mysql"',
      'spec.template: Invalid value: "mysql-community-8.0.36": UnitTemplate is of edition "enterprise", not "community"',
      'spec.template: Invalid value: "mysql-community-8.0.36": UnitTemplate is of version "10.11", not "8.0.36"',
    ]);
  });

  it('check parameter overrides against the parameter definitions', () => {
    const us = unitSet({ config: { parameters: { max_connections: '0', nosuch: '1', lower_case_table_names: '2' } } });
    expect(lines(validateUnitSetTemplate(us, undefined, { template }).errors)).toEqual([
      'spec.config.parameters[max_connections]: Invalid value: "0": below the minimum 1',
      'spec.config.parameters[nosuch]: Not found: "nosuch": UnitTemplate "mysql-community-8.0.36" declares no such parameter',
      'spec.config.parameters[lower_case_table_names]: Invalid value: "2": must be one of 0, 1',
    ]);
  });

  it('keep immutable parameters once the UnitSet exists', () => {
    const old = unitSet({ config: { parameters: { lower_case_table_names: '0' } } });
    const changed = unitSet({ config: { parameters: { lower_case_table_names: '1', max_connections: '10' } } });
    expect(lines(validateUnitSetTemplate(changed, old, { template }).errors)).toEqual([
      'spec.config.parameters[lower_case_table_names]: Forbidden: the parameter is immutable: it can only be chosen when the UnitSet is created',
    ]);
  });

  it('require storage and credentials the template declares', () => {
    const us = unitSet({
      storage: {
        volumes: [
          { name: 'log', size: '1Gi' },
          { name: 'tmp', size: '1Gi' },
        ],
      },
      credentials: [{ name: 'monitor', secretRef: { name: 's' } }],
    });
    expect(lines(validateUnitSetTemplate(us, undefined, { template }).errors)).toEqual([
      'spec.storage.volumes[0].name: Not found: "log": UnitTemplate "mysql-community-8.0.36" declares no such volume',
      'spec.storage.volumes[1].name: Invalid value: "tmp": volume "tmp" is an EmptyDir, not persistent storage',
      'spec.credentials[0].name: Not found: "monitor": UnitTemplate "mysql-community-8.0.36" declares no such account',
    ]);
  });
});
