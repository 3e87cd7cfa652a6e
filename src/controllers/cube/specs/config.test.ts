import { configMap, renderConfig, type RenderedConfig } from './config.js';
import { unitsFor } from './units.js';
import { testTemplate, testUnitSet } from './testing/fixtures.js';
import type { UnitSet, UnitTemplate } from '../../../api/generated/types.js';

function rendered(
  unitSet: UnitSet = testUnitSet(),
  template: UnitTemplate = testTemplate(),
  ordinal = 1,
): RenderedConfig {
  const result = renderConfig(unitsFor(unitSet, template).units[ordinal], template);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
}

describe('renderConfig', () => {
  it('renders each file from the parameters, the Unit identity and the resources', () => {
    expect(rendered().files).toEqual({
      'my.cnf': [
        '[mariadbd]',
        'server_id = 1001',
        'report_host = orders-1.orders-headless.shop.svc',
        `innodb_buffer_pool_size = ${Math.floor(2 * 2 ** 30 * 0.7)}`,
        'max_connections = 1024',
        'performance_schema = OFF',
        'lower_case_table_names = 0',
        '',
      ].join('\n'),
    });
  });

  it('follows the memory limit of the UnitSet', () => {
    const config = rendered(testUnitSet({ resources: { limits: { memory: '8Gi' } } }));
    expect(config.files['my.cnf']).toContain(`innodb_buffer_pool_size = ${Math.floor(8 * 2 ** 30 * 0.7)}\n`);
  });

  it('keeps the restart revision when only dynamic parameters change', () => {
    const before = rendered();
    const after = rendered(testUnitSet({ config: { parameters: { max_connections: '4000' } } }));
    expect(after.files['my.cnf']).toContain('max_connections = 4000');
    expect(after.revision).not.toBe(before.revision);
    expect(after.restartRevision).toBe(before.restartRevision);
    expect(after.restartParameters).toEqual(before.restartParameters);
  });

  it('changes the restart revision when a parameter that needs a restart changes', () => {
    const before = rendered();
    const after = rendered(testUnitSet({ config: { parameters: { performance_schema: 'true' } } }));
    expect(after.restartRevision).not.toBe(before.restartRevision);
    expect(after.restartParameters).toEqual({ lower_case_table_names: '0', performance_schema: 'true' });
  });

  it('reports a template error with the file and line instead of files', () => {
    const template = testTemplate();
    template.spec.configFiles![0].template = '[x]\nvalue = {{ .Parameters.missing_one }}\n';
    const result = renderConfig(unitsFor(testUnitSet(), testTemplate()).units[0], template);
    expect(result).toEqual({
      ok: false,
      problems: [
        {
          reason: 'TemplateError',
          file: 'my.cnf',
          line: 2,
          message: 'my.cnf:2: parameter "missing_one" has no value (the template gives no default and none is set)',
        },
      ],
    });
  });

  it('reports invalid parameter values of the Unit', () => {
    const unit = unitsFor(testUnitSet(), testTemplate()).units[0];
    unit.spec.config = { parameters: { max_connections: 'many' } };
    expect(renderConfig(unit, testTemplate())).toEqual({
      ok: false,
      problems: [
        {
          reason: 'InvalidParameterValue',
          parameter: 'max_connections',
          message: 'max_connections="many": not an integer',
        },
      ],
    });
  });
});

describe('configMap', () => {
  it('carries the files, the config revision and an owner reference to the Unit', () => {
    const unit = unitsFor(testUnitSet(), testTemplate()).units[0];
    unit.metadata.uid = 'unit-uid';
    const config = rendered(testUnitSet(), testTemplate(), 0);
    expect(configMap(unit, config)).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'orders-0-config',
        namespace: 'shop',
        labels: { 'upm.io/unit': 'orders-0', 'upm.io/unitset': 'orders' },
        annotations: { 'upm.io/config-revision': config.revision },
        ownerReferences: [
          {
            apiVersion: 'upm.io/v1alpha1',
            kind: 'Unit',
            name: 'orders-0',
            uid: 'unit-uid',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      data: config.files,
    });
  });
});
