import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ResourceDefinition } from '../machinery/definition.js';
import { named } from './common.js';
import { object, str } from '../machinery/schema.js';
import type { MysqlReplication, UnitSet, UnitSetList, UnitSetSpec, UpmObject } from './generated/types.js';
import { upmResources } from './index.js';
import { generateTypes } from './typegen.js';

const generatedPath = fileURLToPath(new URL('./generated/types.ts', import.meta.url));
const generated = generateTypes(upmResources);

/** The body of `export interface <name> { ... }` in the generated text. */
function body(name: string): string {
  const m = new RegExp(`export interface ${name} \\{\\n([\\s\\S]*?)\\n\\}\\n`).exec(generated);
  if (!m) throw new Error(`interface ${name} not generated`);
  return m[1]!;
}

/** `name?: type` lines of an interface, without JSDoc. */
function members(name: string): string[] {
  return body(name)
    .split('\n')
    .filter((l) => /^ {2}[^ /*]/.test(l))
    .map((l) => l.trim());
}

describe('generated types', () => {
  it('are committed up to date in src/api/generated/types.ts', () => {
    const committed = readFileSync(generatedPath, 'utf8');
    if (committed !== generated) {
      throw new Error(
        'src/api/generated/types.ts is stale: the schemas in src/api changed. Regenerate it from the repository root with ' +
          '`npm run build && node dist/api/typegen-cli.js` and commit the result.',
      );
    }
  });

  it('declare every kind, its spec, status and list', () => {
    for (const d of upmResources) {
      for (const name of [d.kind, `${d.kind}Spec`, `${d.kind}Status`, d.listKind])
        expect(generated).toContain(`export interface ${name} {`);
    }
    expect(members('UnitSet')).toEqual([
      "apiVersion: 'upm.io/v1alpha1';",
      "kind: 'UnitSet';",
      'metadata: ObjectMeta;',
      'spec: UnitSetSpec;',
      'status?: UnitSetStatus;',
    ]);
    expect(members('UnitSetList')).toContain('items: UnitSet[];');
    expect(generated).toContain("import type { ListMeta, ObjectMeta } from '../meta.js';");
  });

  it('make required fields non-optional and map enums, int-or-string and free-form objects', () => {
    const spec = members('UnitSetSpec');
    expect(spec).toEqual(
      expect.arrayContaining([
        'type: string;',
        'edition?: string;',
        'version: string;',
        'units: number;',
        'template?: string;',
        'env?: EnvVar[];',
      ]),
    );
    expect(members('UnitSetUpdateStrategy')).toContain("type?: 'RollingUpdate' | 'OnDelete';");
    expect(members('UnitSetRollingUpdate')).toContain('maxUnavailable?: number | string;');
    expect(members('ResourceRequirements')).toEqual([
      'limits?: Record<string, number | string>;',
      'requests?: Record<string, number | string>;',
    ]);
    expect(members('PodTemplate')).toEqual(['metadata?: PodTemplateMetadata;', 'spec: Record<string, unknown>;']);
    expect(members('Container')).toEqual(['name: string;', '[key: string]: unknown;']);
    expect(members('Condition')).toContain("status: 'True' | 'False' | 'Unknown';");
    expect(members('UnitSetStorageVolume')).toContain(
      "accessModes?: ('ReadWriteOnce' | 'ReadOnlyMany' | 'ReadWriteMany' | 'ReadWriteOncePod')[];",
    );
  });

  it('write shared shapes once and carry descriptions and defaults into JSDoc', () => {
    for (const name of [
      'Condition',
      'CredentialsSecretReference',
      'LabelSelector',
      'PrimaryChange',
      'ReplicationServices',
    ]) {
      expect(generated.split(`export interface ${name} {`).length).toBe(2);
    }
    expect(members('MysqlReplicationStatus')).toEqual(
      expect.arrayContaining([
        'currentPrimary?: string;',
        'targetPrimary?: string;',
        'conditions?: Condition[];',
        'lastPrimaryChange?: PrimaryChange;',
      ]),
    );
    expect(body('UnitSetSpec')).toMatch(
      /Edition of the service[^]*@default "community"\n {3}\*\/\n {2}edition\?: string;/,
    );
    const longDocLines = generated.split('\n').filter((l) => /^\s*(\/\*\*|\*)/.test(l) && l.length > 100);
    expect(longDocLines).toEqual([]);
  });

  it('type-check against real objects', () => {
    const spec: UnitSetSpec = {
      type: 'mysql',
      version: '8.0.36',
      units: 3,
      updateStrategy: { rollingUpdate: { maxUnavailable: '25%' } },
    };
    const us: UnitSet = {
      apiVersion: 'upm.io/v1alpha1',
      kind: 'UnitSet',
      metadata: { name: 'db', namespace: 'default' },
      spec,
    };
    const list: UnitSetList = { apiVersion: 'upm.io/v1alpha1', kind: 'UnitSetList', metadata: {}, items: [us] };
    const mr: MysqlReplication = {
      apiVersion: 'upm.io/v1alpha1',
      kind: 'MysqlReplication',
      metadata: { name: 'db' },
      spec: {
        instances: [{ name: 'db-0', unitRef: { name: 'db-0' } }],
        primary: 'db-0',
        credentials: { admin: { name: 'db-admin' } },
      },
      status: {
        currentPrimary: 'db-0',
        conditions: [
          { type: 'Ready', status: 'True', reason: 'Ready', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' },
        ],
      },
    };
    const objects: UpmObject[] = [us, mr];
    expect(list.items[0]!.spec.units + objects.length).toBe(5);
  });
});

describe('generateTypes', () => {
  const definition = (schema: ResourceDefinition['schema'], kind = 'Widget'): ResourceDefinition => ({
    group: 'example.com',
    version: 'v1',
    kind,
    listKind: `${kind}List`,
    plural: `${kind.toLowerCase()}s`,
    singular: kind.toLowerCase(),
    shortNames: [],
    categories: [],
    namespaced: true,
    description: `${kind} is a test kind.`,
    schema,
    printerColumns: [],
    subresources: {},
  });

  it('names unnamed nested objects by their path and handles maps, nullable and odd property names', () => {
    const out = generateTypes([
      definition({
        type: 'object',
        description: 'root',
        properties: {
          spec: {
            type: 'object',
            description: 'The spec.',
            required: ['size'],
            properties: {
              size: { type: 'integer', description: 'Size.' },
              'max-items': { type: 'integer', description: 'A dashed name.', nullable: true },
              inner: {
                type: 'object',
                description: 'Inner */ part.',
                properties: { level: { type: 'string', enum: ['low', 'high'], description: 'Level.' } },
              },
              byName: {
                type: 'object',
                description: 'A map.',
                additionalProperties: {
                  type: 'object',
                  description: 'A value.',
                  properties: { on: { type: 'boolean', description: 'On.' } },
                },
              },
              rows: { type: 'array', description: 'Rows.', items: { type: 'array', items: { type: 'number' } } },
            },
          },
        },
      }),
    ]);
    expect(out).toContain('export interface WidgetSpec {');
    expect(out).toContain('  size: number;\n');
    expect(out).toContain("  'max-items'?: number | null;\n");
    expect(out).toContain('  inner?: WidgetSpecInner;\n');
    expect(out).toContain("  level?: 'low' | 'high';\n");
    expect(out).toContain('  byName?: Record<string, WidgetSpecByNameValue>;\n');
    expect(out).toContain('  rows?: number[][];\n');
    expect(out).toContain('Inner *\\/ part.');
    expect(out).toContain("  apiVersion: 'example.com/v1';\n");
  });

  it('refuses two different shapes under one type name', () => {
    const a = named('Clash', object('A.', { x: str('X.') }));
    const b = named('Clash', object('B.', { y: str('Y.') }));
    expect(() =>
      generateTypes([
        definition({ type: 'object', description: 'root', properties: { spec: object('Spec.', { a, b }) } }),
      ]),
    ).toThrow(/two different schemas are both named Clash/);
  });
});
