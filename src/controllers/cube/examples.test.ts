// Every file in examples/ is a valid upm.io object (the schema the API server serves, with its
// defaults applied and nothing pruned), every UnitTemplate renders its config files with its
// defaults and for each UnitSet that uses it, and every parameter is used by the files and
// classified as its definition says (dynamic: no restart; otherwise a new Pod).

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { V1PodSpec } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import type { JSONSchema } from '../../machinery/definition.js';
import { defaultUnitTemplateName, unitSetDefinition, unitTemplateDefinition } from '../../api/index.js';
import type { UnitSet, UnitTemplate, UnitTemplateParameter } from '../../api/generated/types.js';
import { classifyPodChange } from './specs/change.js';
import { configMap, renderConfig, type RenderedConfig } from './specs/config.js';
import { checkParameterValue } from './specs/parameters.js';
import { pod, pvcs } from './specs/pod.js';
import { clientService, headlessService, podDisruptionBudget } from './specs/services.js';
import { unitsFor } from './specs/units.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const examplesDir = join(root, 'examples');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

const documents = yamlFiles(examplesDir).flatMap((file) =>
  parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0].message}`);
    return { file: relative(root, file), object: doc.toJS() as { kind: string; metadata: { name: string } } };
  }),
);

const definitions = { UnitSet: unitSetDefinition, UnitTemplate: unitTemplateDefinition };
const ajv = new Ajv({ strict: false, allErrors: true, useDefaults: true });
addFormats(ajv);
const validators = Object.fromEntries(
  Object.entries(definitions).map(([kind, d]) => [kind, ajv.compile(d.schema as object)]),
);

/** Paths of fields the schema does not declare (the API server would drop them). */
function undeclared(value: unknown, schema: JSONSchema, path: string): string[] {
  if (schema['x-kubernetes-preserve-unknown-fields'] && !schema.properties) return [];
  if (Array.isArray(value))
    return schema.items ? value.flatMap((v, i) => undeclared(v, schema.items!, `${path}[${i}]`)) : [];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const child =
      schema.properties?.[k] ??
      (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    if (child) return undeclared(v, child, `${path}.${k}`);
    return schema['x-kubernetes-preserve-unknown-fields'] ? [] : [`${path}.${k}`];
  });
}

const templates = new Map<string, UnitTemplate>();
const unitSets: { file: string; unitSet: UnitSet }[] = [];
for (const { file, object } of documents) {
  if (object.kind === 'UnitTemplate') templates.set(object.metadata.name, object as unknown as UnitTemplate);
  if (object.kind === 'UnitSet') unitSets.push({ file, unitSet: object as unknown as UnitSet });
}

describe('examples/', () => {
  it('holds the UnitTemplates and UnitSets the documentation promises', () => {
    expect([...templates.keys()].sort()).toEqual([
      'mariadb-community-10.11.8',
      'mysql-community-8.0.39',
      'proxysql-community-2.6.3',
      'redis-cluster-community-7.2.5',
      'redis-community-7.2.5',
    ]);
    expect(unitSets.map((u) => u.unitSet.spec.type).sort()).toEqual([
      'mariadb',
      'mysql',
      'proxysql',
      'redis',
      'redis-cluster',
    ]);
  });

  it.each(documents.map((d) => [d.file, d.object.kind, d]))(
    '%s (%s) is valid and nothing in it would be pruned',
    (_f, kind, doc) => {
      const def = definitions[kind as keyof typeof definitions];
      expect(def).toBeDefined();
      const object = structuredClone(doc.object) as Record<string, unknown>;
      expect(object['apiVersion']).toBe('upm.io/v1alpha1');
      const validate = validators[kind];
      const errors = validate(object) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
      expect(errors).toEqual([]);
      const { apiVersion: _a, kind: _k, metadata: _m, ...body } = object;
      expect(undeclared(body, def.schema, '')).toEqual([]);
    },
  );
});

function withDefaults<T>(kind: 'UnitSet' | 'UnitTemplate', object: T): T {
  const copy = structuredClone(object);
  validators[kind](copy);
  return copy;
}

function render(
  unitSet: UnitSet,
  template: UnitTemplate,
  ordinal = 0,
): { config: RenderedConfig; unit: ReturnType<typeof unitsFor>['units'][number] } {
  const desired = unitsFor(unitSet, template);
  expect(desired.problems).toEqual([]);
  const unit = desired.units[ordinal];
  unit.metadata.uid = 'unit-uid';
  const result = renderConfig(unit, template);
  if (!result.ok) throw new Error(result.problems.map((p) => p.message).join('\n'));
  return { config: result.config, unit };
}

/** A UnitSet of `template` with no settings of its own. */
function bareUnitSet(template: UnitTemplate): UnitSet {
  return withDefaults('UnitSet', {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'UnitSet',
    metadata: { name: 'bare', namespace: 'default', uid: 'uid' },
    spec: { type: template.spec.type, version: template.spec.version, units: 1 },
  } as UnitSet);
}

/** The rendered file has the shape its format says (ini and conf only; others are checked by the engine). */
function checkFormat(format: string, text: string): string[] {
  const bad: string[] = [];
  text.split('\n').forEach((line, i) => {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) return;
    if (format === 'ini' && !/^\[[a-z_-]+\]$/.test(t) && !/^[a-z_]+ = \S.*$/.test(t)) bad.push(`${i + 1}: ${line}`);
    if (format === 'conf' && !/^[a-z-]+ \S.*$/.test(t)) bad.push(`${i + 1}: ${line}`);
  });
  return bad;
}

/** Another valid value for a parameter, or undefined when none is easy to find. */
function otherValue(p: UnitTemplateParameter): string | undefined {
  const candidates: string[] = [];
  const d = p.default;
  switch (p.type) {
    case 'integer':
    case 'number':
      if (d === undefined) candidates.push(String(p.minimum ?? 1), '4');
      else candidates.push(String(Number(d) + 1), String(Number(d) - 1));
      break;
    case 'boolean':
      candidates.push(d === 'true' ? 'false' : 'true');
      break;
    case 'enum':
    case 'set':
      candidates.push(...(p.allowedValues ?? []));
      break;
    case 'quantity':
      candidates.push(String(p.minimum ?? '1Mi'), String(p.maximum ?? '2Gi'));
      break;
    case 'string':
      candidates.push('latin1', 'mysql', '', 'x1');
  }
  return candidates.find((v) => v !== d && checkParameterValue(p, v) === undefined);
}

describe.each([...templates.keys()].sort())('UnitTemplate %s', (name) => {
  const template = withDefaults('UnitTemplate', templates.get(name)!);
  const bare = bareUnitSet(template);

  it('renders every config file with the defaults, in the shape of its format', () => {
    const { config } = render(bare, template);
    for (const file of template.spec.configFiles ?? []) {
      const text = config.files[file.name];
      expect(text).toContain('Rendered by upm-engine for Unit bare-0');
      expect(checkFormat(file.format, text)).toEqual([]);
    }
  });

  it('listens on the Pod IP from the downward API', () => {
    const { config, unit } = render(bare, template);
    const spec = pod(unit, template, config).spec as V1PodSpec;
    const main = spec.containers.find((c) => c.name === unit.spec.mainContainer)!;
    expect(main.env).toContainEqual({ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } });
    const text = [...(main.command ?? []), ...(main.args ?? []), ...Object.values(config.files)].join('\n');
    expect(text).toContain('$(POD_IP)');
    expect(text).not.toMatch(/0\.0\.0\.0/);
  });

  it('uses every parameter, and a change restarts the service exactly when the parameter is not dynamic', () => {
    const { config: base, unit } = render(bare, template);
    const desiredPod = pod(unit, template, base);
    const checked: string[] = [];
    for (const p of template.spec.parameters ?? []) {
      const value = otherValue(p);
      if (value === undefined) continue;
      const changed = structuredClone(bare);
      changed.spec.config = { ...changed.spec.config, parameters: { [p.name]: value } };
      const { config, unit: changedUnit } = render(changed, template);
      expect({ parameter: p.name, filesChanged: config.revision !== base.revision }).toEqual({
        parameter: p.name,
        filesChanged: true,
      });
      const kind = classifyPodChange(desiredPod, pod(changedUnit, template, config)).kind;
      expect({ parameter: p.name, kind }).toEqual({
        parameter: p.name,
        kind: p.dynamic ? 'NonDisruptive' : 'Disruptive',
      });
      checked.push(p.name);
    }
    expect(checked.length).toBe((template.spec.parameters ?? []).length);
  });

  it('rejects a parameter it does not define', () => {
    const us = structuredClone(bare);
    us.spec.config = { parameters: { no_such_parameter: '1' } };
    expect(unitsFor(us, template).problems.map((p) => p.reason)).toEqual(['UnknownParameter']);
  });
});

describe.each(unitSets.map((u) => [u.file, u.unitSet] as const))('%s', (_file, raw) => {
  const unitSet = withDefaults('UnitSet', raw);
  unitSet.metadata = { ...unitSet.metadata, namespace: 'default', uid: 'unitset-uid', generation: 1 };

  it('names an example UnitTemplate of its type and version, and its overrides are valid', () => {
    const template = templates.get(defaultUnitTemplateName(unitSet.spec));
    expect(template).toBeDefined();
    expect(unitsFor(unitSet, template!).problems).toEqual([]);
  });

  it('gives every Unit its Pod, claims, ConfigMap; the set its Services and PodDisruptionBudget', () => {
    const template = withDefaults('UnitTemplate', templates.get(defaultUnitTemplateName(unitSet.spec))!);
    const { units } = unitsFor(unitSet, template);
    expect(units).toHaveLength(unitSet.spec.units);
    for (let i = 0; i < units.length; i++) {
      const { config, unit } = render(unitSet, template, i);
      const p = pod(unit, template, config);
      expect(p.metadata?.name).toBe(`${unitSet.metadata.name}-${i}`);
      expect(configMap(unit, config).data).toEqual(config.files);
      expect(pvcs(unit).map((c) => c.metadata?.name)).toEqual([`${unitSet.metadata.name}-${i}-data`]);
    }
    expect(headlessService(unitSet, template).spec?.ports?.length).toBeGreaterThan(0);
    expect(clientService(unitSet, template)?.metadata?.name ?? 'none').toBe(
      unitSet.spec.services?.external?.type === 'None' ? 'none' : unitSet.metadata.name,
    );
    expect(podDisruptionBudget(unitSet).spec?.maxUnavailable).toBeGreaterThanOrEqual(1);
  });
});
