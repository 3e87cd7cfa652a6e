// A small UnitTemplate and UnitSet for the builder tests: one config file, dynamic and restart
// parameters, a persistent and an emptyDir volume, a credential and an exporter.

import type { UnitSet, UnitTemplate } from '../../../../api/generated/types.js';

export function testTemplate(): UnitTemplate {
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'UnitTemplate',
    metadata: { name: 'mariadb-community-10.11.8', uid: 'template-uid' },
    spec: {
      type: 'mariadb',
      edition: 'community',
      version: '10.11.8',
      podTemplate: {
        metadata: { labels: { app: 'db' } },
        spec: {
          containers: [
            {
              name: 'mariadb',
              image: 'mariadb:10.11.8',
              args: ['--bind-address=$(POD_IP)'],
              env: [
                { name: 'TZ', value: 'UTC' },
                { name: 'MODE', value: 'template' },
              ],
              ports: [{ name: 'mysql', containerPort: 3306 }],
            },
          ],
        },
      },
      resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '2', memory: '2Gi' } },
      volumes: [
        { name: 'data', mountPath: '/var/lib/mysql', size: '10Gi', mountPathEnv: 'DATA_MOUNT' },
        { name: 'tmp', type: 'EmptyDir', mountPath: '/tmp', size: '1Gi' },
      ],
      credentials: [{ name: 'admin', defaultUsername: 'root', usernameEnv: 'ADMIN_USER' }],
      exporter: {
        port: 9104,
        container: {
          name: 'metrics',
          image: 'prom/mysqld-exporter:v0.15.1',
          ports: [{ name: 'metrics', containerPort: 9104 }],
        },
      },
      configFiles: [
        {
          name: 'my.cnf',
          mountPath: '/etc/mysql/conf.d',
          format: 'ini',
          template: [
            '[mariadbd]',
            'server_id = {{ add 1000 .Unit.ordinal }}',
            'report_host = {{ .Unit.address }}',
            'innodb_buffer_pool_size = {{ percentOf .Resources.limits.memory 70 }}',
            'max_connections = {{ .Parameters.max_connections }}',
            'performance_schema = {{ onOff .Parameters.performance_schema }}',
            'lower_case_table_names = {{ .Parameters.lower_case_table_names }}',
            '',
          ].join('\n'),
        },
      ],
      parameters: [
        { name: 'max_connections', type: 'integer', default: '1024', minimum: 10, maximum: 100000, dynamic: true },
        { name: 'performance_schema', type: 'boolean', default: 'false' },
        { name: 'lower_case_table_names', type: 'integer', default: '0', minimum: 0, maximum: 2, immutable: true },
        { name: 'binlog_format', type: 'enum', default: 'ROW', allowedValues: ['ROW', 'MIXED'], dynamic: true },
      ],
    },
  };
}

export function testUnitSet(overrides: Partial<UnitSet['spec']> = {}): UnitSet {
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'UnitSet',
    metadata: { name: 'orders', namespace: 'shop', uid: 'unitset-uid', generation: 3, labels: { team: 'payments' } },
    spec: {
      type: 'mariadb',
      edition: 'community',
      version: '10.11.8',
      template: 'mariadb-community-10.11.8',
      units: 3,
      ...overrides,
    },
  };
}
