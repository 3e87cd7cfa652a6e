// The UnitTemplate webhook renders configuration files with the controllers' engine and data.

import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { AdmissionRequest } from '../../machinery/admission.js';
import { reviewUnitTemplate } from './validate.js';

const request = (object: unknown): AdmissionRequest => ({
  uid: 'u',
  kind: { group: 'upm.io', version: 'v1alpha1', kind: 'UnitTemplate' },
  resource: { group: 'upm.io', version: 'v1alpha1', resource: 'unittemplates' },
  name: 'mysql-community-8.0.36',
  operation: 'CREATE',
  userInfo: {},
  object: object as AdmissionRequest['object'],
  oldObject: null,
  dryRun: false,
  options: null,
});

function template(configTemplate: string, parameters: unknown[] = []) {
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'UnitTemplate',
    metadata: { name: 'mysql-community-8.0.36' },
    spec: {
      type: 'mysql',
      version: '8.0.36',
      parameters: [{ name: 'max_connections', type: 'integer', default: '1000' }, ...parameters],
      podTemplate: {
        spec: {
          containers: [
            { name: 'mysql', image: 'mysql' },
            { name: 'unit-agent', image: 'agent' },
          ],
        },
      },
      configFiles: [{ name: 'my.cnf', mountPath: '/etc/mysql', format: 'ini', template: configTemplate }],
    },
  };
}

describe('UnitTemplate webhook', () => {
  it('allows a template whose files render with the defaults', () => {
    const t = template(
      '[mysqld]\nmax_connections = {{ .Parameters.max_connections }}\nserver-id = {{ add .Unit.ordinal 1 }}\n',
    );
    expect(reviewUnitTemplate(request(t))).toEqual({ uid: 'u', allowed: true });
  });

  it('denies one that names a parameter without a value, naming it and the line', () => {
    const res = reviewUnitTemplate(
      request(template('[mysqld]\n\nthread_cache_size = {{ .Parameters.thread_cache_size }}\n')),
    );
    expect(res.allowed).toBe(false);
    expect(res.status?.code).toBe(422);
    expect(res.status?.message).toBe(
      'UnitTemplate.upm.io "mysql-community-8.0.36" is invalid: spec.configFiles[0].template: Invalid value: my.cnf does not render with the parameter defaults: my.cnf:3: parameter "thread_cache_size" has no value (the template gives no default and none is set)',
    );
  });

  it('denies a syntax error and an unknown function', () => {
    expect(reviewUnitTemplate(request(template('{{ if .Parameters.max_connections }}'))).status?.message).toMatch(
      /spec.configFiles\[0\].template: Invalid value: my.cnf does not render with the parameter defaults: my.cnf:1: /,
    );
    expect(reviewUnitTemplate(request(template('{{ nosuch 1 }}'))).allowed).toBe(false);
  });

  it('allows every example UnitTemplate of the repository', () => {
    const dir = fileURLToPath(new URL('../../../examples/unittemplates/', import.meta.url));
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const res = reviewUnitTemplate(request(parse(readFileSync(dir + f, 'utf8'))));
      expect({ file: f, message: res.status?.message }).toEqual({ file: f, message: undefined });
    }
  });
});
