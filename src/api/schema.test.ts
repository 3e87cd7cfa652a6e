// Checks every upm.io definition against the rules the generic machinery and a real
// kube-apiserver (serving the same schema as a CRD) rely on: structural schemas, descriptions
// everywhere (kubectl explain), list semantics, defaults that validate and survive pruning,
// printer columns, scale and selectable-field paths that point at declared fields.

import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { JSONSchema, ResourceDefinition } from '../machinery/definition.js';
import { defaultUnitTemplateName, upmGroup, upmResources, upmVersion } from './index.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function newAjv(useDefaults: boolean): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true, useDefaults });
  addFormats(ajv);
  return ajv;
}

const ajv = newAjv(false);
const defaultingAjv = newAjv(true);

const byKind = new Map(upmResources.map((d) => [d.kind, d]));
function def(kind: string): ResourceDefinition {
  const d = byKind.get(kind);
  if (!d) throw new Error(`no definition for ${kind}`);
  return d;
}

const validators = new Map<string, ValidateFunction>();
function validatorFor(kind: string): ValidateFunction {
  let v = validators.get(kind);
  if (!v) {
    v = ajv.compile(def(kind).schema as object);
    validators.set(kind, v);
  }
  return v;
}

function validate(kind: string, obj: unknown): string[] {
  const v = validatorFor(kind);
  return v(obj) ? [] : (v.errors ?? []).map((e) => `${e.instancePath || '<root>'} ${e.message ?? e.keyword}`);
}

/** A copy of `obj` with every schema default applied (structural defaulting). */
function withDefaults(kind: string, obj: unknown): any {
  const copy = structuredClone(obj);
  const v = defaultingAjv.compile(def(kind).schema as object);
  v(copy);
  return copy;
}

// ---------------------------------------------------------------------------------------------
// Schema walking

type Role = 'root' | 'property' | 'items' | 'additionalProperties' | 'branch';

interface Visit {
  node: JSONSchema;
  path: string;
  role: Role;
}

function walk(schema: JSONSchema, path = '', role: Role = 'root', out: Visit[] = []): Visit[] {
  out.push({ node: schema, path, role });
  for (const [name, prop] of Object.entries(schema.properties ?? {})) walk(prop, `${path}.${name}`, 'property', out);
  if (schema.items) walk(schema.items, `${path}[]`, 'items', out);
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    walk(schema.additionalProperties, `${path}{}`, 'additionalProperties', out);
  }
  for (const key of ['anyOf', 'allOf', 'oneOf'] as const) {
    (schema[key] ?? []).forEach((b, i) => walk(b, `${path}<${key}${i}>`, 'branch', out));
  }
  if (schema.not) walk(schema.not, `${path}<not>`, 'branch', out);
  return out;
}

const isIntOrString = (s: JSONSchema): boolean => s['x-kubernetes-int-or-string'] === true;
const isScalar = (s: JSONSchema): boolean =>
  isIntOrString(s) || s.type === 'string' || s.type === 'integer' || s.type === 'number' || s.type === 'boolean';

/** Keys of a default value the schema would prune (structural defaults must survive pruning). */
function prunedKeys(value: unknown, schema: JSONSchema, path: string): string[] {
  if (schema['x-kubernetes-preserve-unknown-fields'] && !schema.properties) return [];
  if (Array.isArray(value))
    return schema.items ? value.flatMap((v, i) => prunedKeys(v, schema.items!, `${path}[${i}]`)) : [];
  if (value === null || typeof value !== 'object') return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const child =
      schema.properties?.[k] ??
      (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    if (child) out.push(...prunedKeys(v, child, `${path}.${k}`));
    else if (!schema['x-kubernetes-preserve-unknown-fields'] && schema.additionalProperties !== true)
      out.push(`${path}.${k}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// JSONPath → schema node, for printer columns, scale paths and selectable fields

const METADATA_FIELDS: Record<string, JSONSchema> = {
  name: { type: 'string' },
  namespace: { type: 'string' },
  creationTimestamp: { type: 'string', format: 'date-time' },
  generation: { type: 'integer' },
};

interface Resolved {
  node: JSONSchema;
  /** Whether the path went through a list (several values per object). */
  throughList: boolean;
}

function resolve(definition: ResourceDefinition, path: string): Resolved {
  const tokens = path.match(/\.[^.[]+|\[[^\]]*\]/g);
  if (!tokens || tokens.join('') !== path) throw new Error(`cannot parse JSONPath ${path}`);
  let node: JSONSchema = {
    type: 'object',
    properties: { ...definition.schema.properties, metadata: { type: 'object', properties: METADATA_FIELDS } },
  };
  let throughList = false;
  for (const token of tokens) {
    if (token.startsWith('.')) {
      const next = node.properties?.[token.slice(1)];
      if (!next) throw new Error(`${path}: ${token.slice(1)} is not declared`);
      node = next;
      continue;
    }
    if (node.type !== 'array' || !node.items) throw new Error(`${path}: ${token} applied to a non-list`);
    const filter = /^\[\?\(@((?:\.\w+)+)\s*==\s*"[^"]*"\)\]$/.exec(token);
    if (filter) {
      let item: JSONSchema | undefined = node.items;
      for (const name of filter[1]!.split('.').filter(Boolean)) item = item?.properties?.[name];
      if (!item || !isScalar(item))
        throw new Error(`${path}: the filter field ${filter[1]} is not a scalar of the items`);
    } else if (!/^\[(\*|\d+)\]$/.test(token)) {
      throw new Error(`${path}: unsupported step ${token}`);
    }
    throughList = true;
    node = node.items;
  }
  return { node, throughList };
}

// ---------------------------------------------------------------------------------------------

describe('upmResources', () => {
  it('lists the eight upm.io kinds once each, in group upm.io/v1alpha1', () => {
    expect(upmGroup).toBe('upm.io');
    expect(upmVersion).toBe('v1alpha1');
    expect(upmResources.map((d) => d.kind)).toEqual([
      'UnitSet',
      'Unit',
      'UnitTemplate',
      'SidecarSet',
      'MysqlReplication',
      'RedisReplication',
      'RedisCluster',
      'ProxysqlSync',
    ]);
    for (const d of upmResources) {
      expect(d.group).toBe(upmGroup);
      expect(d.version).toBe(upmVersion);
      expect(d.listKind).toBe(`${d.kind}List`);
      expect(d.singular).toBe(d.kind.toLowerCase());
      expect(d.plural).toBe(`${d.kind.toLowerCase()}s`);
      expect(d.categories).toEqual(['upm']);
      expect(d.description.length).toBeGreaterThan(40);
    }
  });

  it('scopes the catalogue kinds to the cluster and the rest to namespaces', () => {
    const clusterScoped = upmResources.filter((d) => !d.namespaced).map((d) => d.kind);
    expect(clusterScoped).toEqual(['UnitTemplate', 'SidecarSet']);
  });

  it('uses short names that are unique and do not shadow built-in ones', () => {
    const builtIn = [
      'cm',
      'cs',
      'csr',
      'crd',
      'crds',
      'ds',
      'deploy',
      'ep',
      'ev',
      'hpa',
      'ing',
      'limits',
      'netpol',
      'no',
      'ns',
      'pc',
      'pdb',
      'po',
      'pv',
      'pvc',
      'quota',
      'rc',
      'rs',
      'sa',
      'sc',
      'sts',
      'svc',
    ];
    const all = upmResources.flatMap((d) => d.shortNames);
    expect(new Set(all).size).toBe(all.length);
    expect(all.filter((s) => builtIn.includes(s))).toEqual([]);
    expect(Object.fromEntries(upmResources.map((d) => [d.kind, d.shortNames]))).toMatchObject({
      UnitSet: ['us'],
      Unit: ['un'],
      MysqlReplication: ['mr'],
      RedisReplication: ['rr'],
      RedisCluster: ['rcc'],
      ProxysqlSync: ['ps'],
    });
  });
});

describe.each(upmResources.map((d) => [d.kind, d] as const))('%s schema', (_kind, definition) => {
  const nodes = walk(definition.schema);

  it('is an object with a spec and a status', () => {
    expect(definition.schema.type).toBe('object');
    expect(Object.keys(definition.schema.properties ?? {})).toEqual(['spec', 'status']);
    expect(definition.schema.required).toEqual(['spec']);
    expect(definition.subresources.status).toBe(true);
  });

  it('describes every field at every depth (kubectl explain)', () => {
    const missing = nodes
      .filter(
        ({ node, role }) =>
          role === 'root' ||
          role === 'property' ||
          ((role === 'items' || role === 'additionalProperties') && node.type === 'object'),
      )
      .filter(({ node }) => !node.description || node.description.trim().length < 5)
      .map(({ path }) => path || '<root>');
    expect(missing).toEqual([]);
  });

  it('is structural: typed nodes, anyOf only for int-or-string or required-only alternatives', () => {
    const problems: string[] = [];
    for (const { node, path, role } of nodes) {
      if (node.$ref) problems.push(`${path}: $ref`);
      if (node.uniqueItems) problems.push(`${path}: uniqueItems is not allowed`);
      if (node.properties && node.additionalProperties !== undefined)
        problems.push(`${path}: properties and additionalProperties`);
      if (role === 'branch') {
        const keys = Object.keys(node);
        const intOrStringBranch = keys.length === 1 && (node.type === 'integer' || node.type === 'string');
        const requiredOnly = keys.length === 1 && Array.isArray(node.required);
        if (!intOrStringBranch && !requiredOnly)
          problems.push(`${path}: branch may only hold a type (int-or-string) or required`);
        continue;
      }
      if (isIntOrString(node)) {
        if (node.type) problems.push(`${path}: int-or-string must not have a type`);
        if (JSON.stringify(node.anyOf) !== JSON.stringify([{ type: 'integer' }, { type: 'string' }]))
          problems.push(`${path}: int-or-string needs anyOf integer|string`);
        continue;
      }
      if (!node.type) problems.push(`${path}: no type`);
      if (node.anyOf && !node.anyOf.every((b) => Object.keys(b).join() === 'required'))
        problems.push(`${path}: anyOf outside int-or-string`);
      for (const key of node.anyOf?.flatMap((b) => b.required ?? []) ?? []) {
        if (!node.properties?.[key]) problems.push(`${path}: anyOf requires undeclared ${key}`);
      }
      for (const key of node.required ?? [])
        if (!node.properties?.[key]) problems.push(`${path}: requires undeclared ${key}`);
      if (node.enum && node.enum.some((v) => typeof v !== (node.type === 'integer' ? 'number' : node.type)))
        problems.push(`${path}: enum value of the wrong type`);
      if (
        node.type === 'object' &&
        !node.properties &&
        !node.additionalProperties &&
        !node['x-kubernetes-preserve-unknown-fields']
      ) {
        problems.push(`${path}: object without properties, additionalProperties or preserve-unknown-fields`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('declares list semantics on every list; map lists key on required scalars', () => {
    const problems: string[] = [];
    for (const { node, path } of nodes) {
      if (node.type !== 'array') continue;
      const listType = node['x-kubernetes-list-type'];
      if (!listType) problems.push(`${path}: no x-kubernetes-list-type`);
      if (!node.items) problems.push(`${path}: no items`);
      if (listType === 'set' && node.items && !isScalar(node.items)) problems.push(`${path}: set of non-scalars`);
      if (listType === 'map') {
        const keys = node['x-kubernetes-list-map-keys'] ?? [];
        if (keys.length === 0) problems.push(`${path}: map list without keys`);
        for (const key of keys) {
          const prop = node.items?.properties?.[key];
          if (!prop || !isScalar(prop)) problems.push(`${path}: map key ${key} is not a scalar property of the items`);
          if (!node.items?.required?.includes(key) && prop?.default === undefined)
            problems.push(`${path}: map key ${key} is neither required nor defaulted`);
        }
      } else if (node['x-kubernetes-list-map-keys']) {
        problems.push(`${path}: list-map-keys on a ${listType} list`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('has defaults that validate under their own schema, also once nested defaults apply, and survive pruning', () => {
    const problems: string[] = [];
    for (const { node, path } of nodes) {
      if (node.default === undefined) continue;
      const { default: dflt, ...withoutDefault } = node;
      const check = ajv.compile(withoutDefault as object);
      if (!check(dflt))
        problems.push(`${path}: default ${JSON.stringify(dflt)} is invalid: ${ajv.errorsText(check.errors)}`);
      const full = { value: structuredClone(dflt) };
      defaultingAjv.compile({ type: 'object', properties: { value: node } } as object)(full);
      if (!check(full.value))
        problems.push(
          `${path}: defaulted default ${JSON.stringify(full.value)} is invalid: ${ajv.errorsText(check.errors)}`,
        );
      problems.push(...prunedKeys(dflt, node, path).map((p) => `${p}: default would be pruned`));
    }
    expect(problems).toEqual([]);
  });

  it('compiles as a whole with ajv', () => {
    expect(() => ajv.compile(definition.schema as object)).not.toThrow();
  });

  it('has printer columns that resolve to declared scalar fields, ending with Age', () => {
    for (const col of definition.printerColumns) {
      const { node, throughList } = resolve(definition, col.jsonPath);
      if (!col.type) {
        expect({ column: col.name, scalar: isScalar(node), throughList }).toEqual({
          column: col.name,
          scalar: true,
          throughList: false,
        });
      }
      expect(
        col.description ?? node.description ?? (col.jsonPath.startsWith('.metadata.') ? 'machinery' : ''),
      ).not.toBe('');
    }
    const names = definition.printerColumns.map((c) => c.name.toLowerCase());
    expect(new Set(names).size).toBe(names.length);
    expect(definition.printerColumns.at(-1)).toEqual({
      name: 'Age',
      jsonPath: '.metadata.creationTimestamp',
      type: 'date',
    });
  });

  it('has selectable fields on scalar fields outside lists', () => {
    for (const field of definition.selectableFields ?? []) {
      const { node, throughList } = resolve(definition, `.${field}`);
      expect({ field, scalar: isScalar(node), throughList }).toEqual({ field, scalar: true, throughList: false });
    }
  });

  it('lists condition types with metav1.Condition items in status.conditions', () => {
    const list = definition.schema.properties?.status?.properties?.conditions;
    expect(list?.['x-kubernetes-list-type']).toBe('map');
    expect(list?.['x-kubernetes-list-map-keys']).toEqual(['type']);
    expect(list?.items?.required).toEqual(['type', 'status', 'lastTransitionTime', 'reason', 'message']);
    expect(list?.items?.properties?.status?.enum).toEqual(['True', 'False', 'Unknown']);
    expect(list?.description).toMatch(
      definition.kind === 'UnitTemplate' ? /Condition types: Valid: / : /Condition types: Ready: /,
    );
    expect(definition.schema.properties?.status?.properties?.observedGeneration?.type).toBe('integer');
  });
});

describe('UnitSet', () => {
  const minimal = { spec: { type: 'mysql', version: '8.0.36', units: 3 } };

  it('accepts a spec with only type, version and units', () => {
    expect(validate('UnitSet', minimal)).toEqual([]);
  });

  it('rejects negative units and a missing type', () => {
    const errors = validate('UnitSet', { spec: { version: '8.0.36', units: -1 } });
    expect(errors).toEqual(
      expect.arrayContaining(['/spec/units must be >= 0', "/spec must have required property 'type'"]),
    );
    expect(validate('UnitSet', {})).toEqual(["<root> must have required property 'spec'"]);
  });

  it('rejects an ill-formed version, quantity, maxUnavailable or enum value', () => {
    const spec = (extra: object) => ({ spec: { ...minimal.spec, ...extra } });
    expect(validate('UnitSet', spec({ version: '8.0.36 ' }))).not.toEqual([]);
    expect(validate('UnitSet', spec({ resources: { limits: { memory: '4GB' } } }))).not.toEqual([]);
    expect(validate('UnitSet', spec({ resources: { limits: { memory: '4Gi', cpu: 2 } } }))).toEqual([]);
    expect(validate('UnitSet', spec({ updateStrategy: { rollingUpdate: { maxUnavailable: '25%' } } }))).toEqual([]);
    expect(validate('UnitSet', spec({ updateStrategy: { rollingUpdate: { maxUnavailable: 'half' } } }))).not.toEqual(
      [],
    );
    expect(validate('UnitSet', spec({ updateStrategy: { type: 'Parallel' } }))).not.toEqual([]);
    expect(
      validate(
        'UnitSet',
        spec({ storage: { volumes: [{ name: 'data', size: '20Gi', accessModes: ['ReadWriteOnce'] }] } }),
      ),
    ).toEqual([]);
    expect(validate('UnitSet', spec({ credentials: [{ name: 'admin' }] }))).not.toEqual([]);
  });

  it('defaults everything but type, version, units and template', () => {
    expect(withDefaults('UnitSet', minimal).spec).toEqual({
      type: 'mysql',
      edition: 'community',
      version: '8.0.36',
      units: 3,
      storage: { persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' } },
      updateStrategy: {
        type: 'RollingUpdate',
        rollingUpdate: { partition: 0, maxUnavailable: 1, order: 'ReplicasFirst' },
      },
      scheduling: { pinToNode: true, podAntiAffinity: 'Preferred', topologyKey: 'kubernetes.io/hostname' },
      services: { external: { type: 'None' }, perUnit: { type: 'None' } },
      config: { restartPolicy: 'Rolling' },
      monitoring: { exporter: { enabled: true }, podMonitor: { enabled: false, interval: '30s' } },
      sidecars: { inject: true },
    });
  });

  it('names the default UnitTemplate <type>-<edition>-<version>', () => {
    expect(defaultUnitTemplateName({ type: 'mysql', version: '8.0.36' })).toBe('mysql-community-8.0.36');
    expect(defaultUnitTemplateName({ type: 'mysql', edition: 'enterprise', version: '8.4.5' })).toBe(
      'mysql-enterprise-8.4.5',
    );
  });

  it('exposes a scale subresource over spec.units, status.units and status.selector', () => {
    const d = def('UnitSet');
    expect(d.subresources.scale).toEqual({
      specReplicasPath: '.spec.units',
      statusReplicasPath: '.status.units',
      labelSelectorPath: '.status.selector',
    });
    expect(resolve(d, '.spec.units').node.type).toBe('integer');
    expect(resolve(d, '.status.units').node.type).toBe('integer');
    expect(resolve(d, '.status.selector').node.type).toBe('string');
  });

  it('prints type, version, units, ready units and the Ready reason by default, edition with -o wide', () => {
    const d = def('UnitSet');
    expect(d.printerColumns.filter((c) => !c.priority).map((c) => `${c.name}=${c.jsonPath}`)).toEqual([
      'Type=.spec.type',
      'Version=.spec.version',
      'Units=.spec.units',
      'Ready=.status.readyUnits',
      'Status=.status.conditions[?(@.type=="Ready")].reason',
      'Age=.metadata.creationTimestamp',
    ]);
    expect(d.printerColumns.find((c) => c.name === 'Edition')?.priority).toBe(1);
  });
});

describe('the other kinds', () => {
  const podTemplate = { spec: { containers: [{ name: 'mysql', image: 'mysql:8.0.36' }] } };
  const secret = { name: 'mysql-admin' };

  it('accept minimal objects', () => {
    const examples: Record<string, unknown> = {
      Unit: { spec: { unitTemplate: 'mysql-community-8.0.36', podTemplate } },
      UnitTemplate: { spec: { type: 'mysql', version: '8.0.36', podTemplate } },
      SidecarSet: { spec: { selector: {}, containers: [{ name: 'filebeat', image: 'elastic/filebeat:8.15.0' }] } },
      MysqlReplication: {
        spec: {
          instances: [
            { name: 'db-0', unitRef: { name: 'db-0' } },
            { name: 'ext', host: '10.0.0.7' },
          ],
          primary: 'db-0',
          credentials: { admin: secret },
        },
      },
      RedisReplication: {
        spec: { instances: [{ name: 'r0', host: 'redis-0.redis.svc' }], primary: 'r0', credentials: secret },
      },
      RedisCluster: {
        spec: { shards: [{ name: 's0', instances: [{ name: 'n0', host: 'fd00::7' }] }], credentials: secret },
      },
      ProxysqlSync: {
        spec: {
          mysqlReplication: { name: 'db' },
          proxysql: [{ name: 'p0', unitRef: { name: 'proxy-0' } }],
          credentials: { admin: secret },
        },
      },
    };
    for (const [kind, obj] of Object.entries(examples))
      expect({ kind, errors: validate(kind, obj) }).toEqual({ kind, errors: [] });
  });

  it('keep free-form Pod specs and containers as sent', () => {
    const d = def('UnitTemplate');
    const spec = d.schema.properties!.spec!.properties!;
    expect(spec.podTemplate!.properties!.spec!['x-kubernetes-preserve-unknown-fields']).toBe(true);
    expect(spec.exporter!.properties!.container!['x-kubernetes-preserve-unknown-fields']).toBe(true);
  });

  it('require an instance to be a Unit or a host, and reject bad hosts and ports', () => {
    const mr = (instance: object) => ({
      spec: { instances: [instance], primary: 'a', credentials: { admin: secret } },
    });
    expect(validate('MysqlReplication', mr({ name: 'a' }))).not.toEqual([]);
    expect(validate('MysqlReplication', mr({ name: 'a', host: 'bad host' }))).not.toEqual([]);
    expect(validate('MysqlReplication', mr({ name: 'a', host: 'db.example.com', port: 70000 }))).not.toEqual([]);
    expect(validate('MysqlReplication', mr({ name: 'a', host: 'db.example.com', port: 3307 }))).toEqual([]);
  });

  it('default ports, credential keys, failover and switchover settings', () => {
    const mr = withDefaults('MysqlReplication', {
      spec: { instances: [{ name: 'a', host: 'h' }], primary: 'a', credentials: { admin: secret } },
    });
    expect(mr.spec.instances[0]).toEqual({ name: 'a', host: 'h', port: 3306, isolated: false, promotable: true });
    expect(mr.spec.credentials.admin).toEqual({
      name: 'mysql-admin',
      usernameKey: 'username',
      passwordKey: 'password',
    });
    expect(mr.spec).toMatchObject({
      mode: 'Async',
      failover: { mode: 'Manual', delaySeconds: 30 },
      switchover: { maxLagSeconds: 30, catchUpTimeoutSeconds: 60 },
      service: { type: 'ClusterIP', readOnly: true },
      tls: { mode: 'Disabled' },
      paused: false,
      deletionPolicy: 'Retain',
    });
    const rr = withDefaults('RedisReplication', {
      spec: { instances: [{ name: 'a', host: 'h' }], primary: 'a', credentials: secret },
    });
    expect(rr.spec.instances[0].port).toBe(6379);
    const ps = withDefaults('ProxysqlSync', {
      spec: { mysqlReplication: { name: 'db' }, proxysql: [{ name: 'p', host: 'h' }], credentials: { admin: secret } },
    });
    expect(ps.spec.proxysql[0].port).toBe(6032);
    expect(ps.spec.servers).toMatchObject({ writerHostgroup: 0, readerHostgroup: 1, checkType: 'read_only' });
  });

  it('track the current and target primary in status, CloudNativePG style', () => {
    for (const kind of ['MysqlReplication', 'RedisReplication']) {
      const status = def(kind).schema.properties!.status!.properties!;
      expect(status.currentPrimary?.type).toBe('string');
      expect(status.targetPrimary?.type).toBe('string');
      expect(status.lastPrimaryChange?.properties?.phase?.enum).toContain('Fencing');
      expect(def(kind).printerColumns[0]).toEqual({ name: 'Primary', jsonPath: '.status.currentPrimary' });
    }
  });
});
