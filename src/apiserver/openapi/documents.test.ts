import { createHash } from 'node:crypto';
import type { ResourceDefinition } from '../../machinery/definition.js';
import { DELETE_OPTIONS, OBJECT_META, SCALE, metaDefinition, metaDefinitionNames } from './meta-schemas.js';
import { definitionName, definitionNamePrefix, operationIdInfix } from './model.js';
import { doohickeyDefinition, gizmoDefinition, testDefinitions, thingDefinition } from './testing/definitions.js';
import { buildOpenAPIV2 } from './v2.js';
import { buildOpenAPIV3 } from './v3.js';

type Doc = Record<string, any>;

const GV = 'apis/example.upm.io/v1beta1';
const NS = '/apis/example.upm.io/v1beta1/namespaces/{namespace}/gizmos';

function v3Doc(defs: ResourceDefinition[] = testDefinitions, key = GV): Doc {
  const gv = buildOpenAPIV3(defs).groupVersions.get(key);
  if (!gv) throw new Error(`no ${key}`);
  return JSON.parse(gv.body.toString('utf8')) as Doc;
}

function v2Doc(defs: ResourceDefinition[] = testDefinitions): Doc {
  return JSON.parse(buildOpenAPIV2(defs).json.toString('utf8')) as Doc;
}

/** Resolve `$ref` / `allOf: [{$ref}]` of a v3 schema. */
function resolveV3(doc: Doc, s: Doc): Doc {
  const ref: string | undefined = s.$ref ?? s.allOf?.[0]?.$ref;
  return ref ? doc.components.schemas[ref.replace('#/components/schemas/', '')] : s;
}

describe('naming', () => {
  it('names definitions by reversed group, and core/k8s groups by their Go package', () => {
    expect(definitionNamePrefix('upm.io', 'v1alpha1')).toBe('io.upm.v1alpha1');
    expect(definitionName({ group: 'upm.io', version: 'v1alpha1', kind: 'UnitSet' })).toBe('io.upm.v1alpha1.UnitSet');
    expect(definitionName({ group: '', version: 'v1', kind: 'Pod' })).toBe('io.k8s.api.core.v1.Pod');
    expect(definitionName({ group: 'apps', version: 'v1', kind: 'Deployment' })).toBe('io.k8s.api.apps.v1.Deployment');
    expect(definitionName({ group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'Role' })).toBe(
      'io.k8s.api.rbac.v1.Role',
    );
    expect(operationIdInfix('upm.io', 'v1alpha1')).toBe('UpmIoV1alpha1');
    expect(operationIdInfix('', 'v1')).toBe('CoreV1');
  });
});

describe('OpenAPI v3', () => {
  it('publishes a root with one serverRelativeURL per group-version, hash = sha512 of the bytes', () => {
    const { root, groupVersions } = buildOpenAPIV3(testDefinitions);
    expect(Object.keys(root.paths).sort()).toEqual(['api/v1', GV]);
    for (const [key, { body, hash }] of groupVersions) {
      expect(hash).toBe(createHash('sha512').update(body).digest('hex').toUpperCase());
      expect(hash).toMatch(/^[0-9A-F]{128}$/);
      expect(root.paths[key]).toEqual({ serverRelativeURL: `/openapi/v3/${key}?hash=${hash}` });
    }
  });

  it('is deterministic: same bytes for the same definitions in any order', () => {
    const a = buildOpenAPIV3(testDefinitions);
    const b = buildOpenAPIV3([...testDefinitions].reverse().map((d) => structuredClone(d)));
    for (const [key, doc] of a.groupVersions) {
      expect(b.groupVersions.get(key)!.hash).toBe(doc.hash);
      expect(b.groupVersions.get(key)!.body.equals(doc.body)).toBe(true);
    }
    const changed = structuredClone(gizmoDefinition);
    changed.schema.properties!.spec!.description = 'changed';
    expect(buildOpenAPIV3([changed]).groupVersions.get(GV)!.hash).not.toBe(
      buildOpenAPIV3([gizmoDefinition]).groupVersions.get(GV)!.hash,
    );
  });

  it('has paths for every verb, with actions, operation ids and GVK objects', () => {
    const doc = v3Doc();
    expect(doc.openapi).toBe('3.0.0');
    expect(doc.info).toEqual({ title: 'Kubernetes', version: 'unversioned' });
    const gvk = { group: 'example.upm.io', version: 'v1beta1', kind: 'Gizmo' };
    const ops: [string, string, string, string][] = [
      ['/apis/example.upm.io/v1beta1/gizmos', 'get', 'list', 'listExampleUpmIoV1beta1GizmoForAllNamespaces'],
      [NS, 'get', 'list', 'listExampleUpmIoV1beta1NamespacedGizmo'],
      [NS, 'post', 'post', 'createExampleUpmIoV1beta1NamespacedGizmo'],
      [NS, 'delete', 'deletecollection', 'deleteExampleUpmIoV1beta1CollectionNamespacedGizmo'],
      [`${NS}/{name}`, 'get', 'get', 'readExampleUpmIoV1beta1NamespacedGizmo'],
      [`${NS}/{name}`, 'put', 'put', 'replaceExampleUpmIoV1beta1NamespacedGizmo'],
      [`${NS}/{name}`, 'patch', 'patch', 'patchExampleUpmIoV1beta1NamespacedGizmo'],
      [`${NS}/{name}`, 'delete', 'delete', 'deleteExampleUpmIoV1beta1NamespacedGizmo'],
      [`${NS}/{name}/status`, 'get', 'get', 'readExampleUpmIoV1beta1NamespacedGizmoStatus'],
      [`${NS}/{name}/status`, 'put', 'put', 'replaceExampleUpmIoV1beta1NamespacedGizmoStatus'],
      [`${NS}/{name}/status`, 'patch', 'patch', 'patchExampleUpmIoV1beta1NamespacedGizmoStatus'],
      [
        '/apis/example.upm.io/v1beta1/watch/gizmos',
        'get',
        'watchlist',
        'watchExampleUpmIoV1beta1GizmoListForAllNamespaces',
      ],
      [
        '/apis/example.upm.io/v1beta1/watch/namespaces/{namespace}/gizmos',
        'get',
        'watchlist',
        'watchExampleUpmIoV1beta1NamespacedGizmoList',
      ],
      [
        '/apis/example.upm.io/v1beta1/watch/namespaces/{namespace}/gizmos/{name}',
        'get',
        'watch',
        'watchExampleUpmIoV1beta1NamespacedGizmo',
      ],
    ];
    for (const [path, method, action, id] of ops) {
      const op = doc.paths[path]?.[method];
      expect({
        path,
        method,
        op: op && { id: op.operationId, action: op['x-kubernetes-action'], gvk: op['x-kubernetes-group-version-kind'] },
      }).toEqual({
        path,
        method,
        op: { id, action, gvk },
      });
    }
    for (const method of ['get', 'put', 'patch']) {
      expect(doc.paths[`${NS}/{name}/scale`][method]['x-kubernetes-group-version-kind']).toEqual({
        group: 'autoscaling',
        version: 'v1',
        kind: 'Scale',
      });
    }
    // Path-level parameters.
    expect(doc.paths[`${NS}/{name}`].parameters.map((p: Doc) => [p.name, p.in, p.required ?? false])).toEqual([
      ['name', 'path', true],
      ['namespace', 'path', true],
      ['pretty', 'query', false],
    ]);
  });

  it('declares the write and list query parameters and exactly the patch content types the server implements', () => {
    const doc = v3Doc();
    const names = (op: Doc): string[] => op.parameters.map((p: Doc) => p.name);
    for (const path of [`${NS}/{name}`, `${NS}/{name}/status`, `${NS}/{name}/scale`]) {
      const patch = doc.paths[path].patch;
      expect(names(patch)).toEqual(['dryRun', 'fieldManager', 'fieldValidation', 'force']);
      expect(Object.keys(patch.requestBody.content)).toEqual([
        'application/apply-patch+yaml',
        'application/json-patch+json',
        'application/merge-patch+json',
      ]);
      expect(patch.requestBody.content['application/merge-patch+json'].schema).toEqual({
        $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch',
      });
      expect(names(doc.paths[path].put)).toEqual(['dryRun', 'fieldManager', 'fieldValidation']);
    }
    expect(names(doc.paths[NS].post)).toEqual(['dryRun', 'fieldManager', 'fieldValidation']);
    expect(doc.paths[NS].post.parameters[0]).toMatchObject({
      in: 'query',
      schema: { type: 'string', uniqueItems: true },
    });
    expect(names(doc.paths[NS].get)).toEqual([
      'allowWatchBookmarks',
      'continue',
      'fieldSelector',
      'labelSelector',
      'limit',
      'resourceVersion',
      'resourceVersionMatch',
      'sendInitialEvents',
      'timeoutSeconds',
      'watch',
    ]);
    expect(names(doc.paths[`${NS}/{name}`].delete)).toEqual(
      expect.arrayContaining(['dryRun', 'gracePeriodSeconds', 'propagationPolicy']),
    );
    expect(doc.paths[NS].get.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/io.upm.example.v1beta1.GizmoList',
    });
    expect(doc.paths[`${NS}/{name}`].delete.responses['200'].content['application/json'].schema.$ref).toBe(
      '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Status',
    );
    expect(doc.paths[`${NS}/{name}/scale`].get.responses['200'].content['application/json'].schema.$ref).toBe(
      `#/components/schemas/${SCALE}`,
    );
    expect(JSON.stringify(doc)).not.toContain('strategic-merge-patch');
  });

  it('publishes the kind and list schemas with GVK arrays, apiVersion/kind/metadata and the kind schema', () => {
    const doc = v3Doc();
    const gizmo = doc.components.schemas['io.upm.example.v1beta1.Gizmo'];
    expect(gizmo['x-kubernetes-group-version-kind']).toEqual([
      { group: 'example.upm.io', kind: 'Gizmo', version: 'v1beta1' },
    ]);
    expect(gizmo.description).toBe(gizmoDefinition.description);
    expect(gizmo.type).toBe('object');
    expect(gizmo.required).toEqual(['spec']);
    expect(Object.keys(gizmo.properties)).toEqual(['apiVersion', 'kind', 'metadata', 'spec', 'status']);
    expect(gizmo.properties.apiVersion).toMatchObject({
      type: 'string',
      description: expect.stringContaining('APIVersion defines'),
    });
    expect(gizmo.properties.kind).toMatchObject({
      type: 'string',
      description: expect.stringContaining('Kind is a string value'),
    });
    expect(gizmo.properties.metadata).toEqual({
      allOf: [{ $ref: `#/components/schemas/${OBJECT_META}` }],
      description: expect.stringContaining("Standard object's metadata"),
    });
    expect(gizmo.properties.spec['x-kubernetes-validations']).toEqual([
      { rule: 'self.replicas <= 9', message: 'too many' },
    ]);
    expect(gizmo.properties.spec.properties.limits.nullable).toBe(true); // v3 keeps nullable
    const list = doc.components.schemas['io.upm.example.v1beta1.GizmoList'];
    expect(list['x-kubernetes-group-version-kind']).toEqual([
      { group: 'example.upm.io', kind: 'GizmoList', version: 'v1beta1' },
    ]);
    expect(list.required).toEqual(['items']);
    expect(list.properties.items.items).toEqual({ $ref: '#/components/schemas/io.upm.example.v1beta1.Gizmo' });
    expect(list.properties.metadata.allOf[0].$ref).toBe(
      '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta',
    );
    // Every reference resolves.
    const refs = JSON.stringify(doc).match(/"#\/components\/schemas\/[^"]+"/g) ?? [];
    for (const r of new Set(refs))
      expect(doc.components.schemas[JSON.parse(r).replace('#/components/schemas/', '')]).toBeDefined();
    expect(doc.components.schemas[DELETE_OPTIONS]['x-kubernetes-group-version-kind']).toEqual(
      expect.arrayContaining([
        { group: '', kind: 'DeleteOptions', version: 'v1' },
        { group: 'example.upm.io', kind: 'DeleteOptions', version: 'v1beta1' },
      ]),
    );
    expect(doc.components.schemas[SCALE]['x-kubernetes-group-version-kind']).toEqual([
      { group: 'autoscaling', kind: 'Scale', version: 'v1' },
    ]);
  });

  it('carries descriptions down to every nested field (kubectl explain gizmo.spec.storage.volumes.name)', () => {
    const doc = v3Doc();
    const gizmo = doc.components.schemas['io.upm.example.v1beta1.Gizmo'];
    const storage = gizmo.properties.spec.properties.storage;
    expect(storage.description).toBe('Persistent storage of the gizmo.');
    expect(storage.properties.size.description).toBe('Size of the volume, e.g. 10Gi.');
    expect(storage.properties.volumes.items.properties.name.description).toBe('Volume name.');
    // Into the meta schemas.
    const meta = resolveV3(doc, gizmo.properties.metadata);
    for (const f of [
      'name',
      'generateName',
      'namespace',
      'uid',
      'resourceVersion',
      'generation',
      'creationTimestamp',
      'deletionTimestamp',
      'deletionGracePeriodSeconds',
      'labels',
      'annotations',
      'ownerReferences',
      'finalizers',
      'managedFields',
    ]) {
      expect([f, typeof meta.properties[f]?.description]).toEqual([f, 'string']);
    }
    const owner = resolveV3(doc, meta.properties.ownerReferences.items);
    for (const f of Object.keys(owner.properties)) expect(owner.properties[f].description).toEqual(expect.any(String));
  });

  it('gives every meta definition and each of its fields a description', () => {
    const walk = (s: Doc, path: string): void => {
      if (s.properties) {
        for (const [k, v] of Object.entries<Doc>(s.properties)) {
          expect([`${path}.${k}`, typeof v.description]).toEqual([`${path}.${k}`, 'string']);
          walk(v, `${path}.${k}`);
        }
      }
    };
    for (const name of metaDefinitionNames()) {
      const s = metaDefinition(name) as Doc;
      expect([name, typeof s.description]).toEqual([name, 'string']);
      walk(s, name);
    }
  });

  it('publishes cluster-scoped kinds, verb subsets and the core group', () => {
    const doc = v3Doc();
    const base = '/apis/example.upm.io/v1beta1/doohickeys';
    expect(Object.keys(doc.paths[base]).sort()).toEqual(['get', 'parameters']);
    expect(doc.paths[base].get.operationId).toBe('listExampleUpmIoV1beta1Doohickey');
    expect(Object.keys(doc.paths[`${base}/{name}`]).sort()).toEqual(['get', 'parameters']);
    expect(doc.paths[`${base}/{name}`].get.operationId).toBe('readExampleUpmIoV1beta1Doohickey');
    expect(doc.paths[`${base}/{name}`].parameters.map((p: Doc) => p.name)).toEqual(['name', 'pretty']);
    expect(doc.paths['/apis/example.upm.io/v1beta1/watch/doohickeys/{name}'].get['x-kubernetes-action']).toBe('watch');
    expect(doc.paths[`${base}/{name}/status`]).toBeUndefined();
    expect(Object.keys(doc.paths).some((p) => p.includes('namespaces/{namespace}/doohickeys'))).toBe(false);

    const core = v3Doc(testDefinitions, 'api/v1');
    expect(core.paths['/api/v1/namespaces/{namespace}/things/{name}'].patch.operationId).toBe(
      'patchCoreV1NamespacedThing',
    );
    expect(core.paths['/api/v1/namespaces/{namespace}/things/{name}'].patch['x-kubernetes-group-version-kind']).toEqual(
      { group: '', version: 'v1', kind: 'Thing' },
    );
    expect(core.components.schemas['io.k8s.api.core.v1.Thing']['x-kubernetes-group-version-kind']).toEqual([
      { group: '', kind: 'Thing', version: 'v1' },
    ]);
    expect(core.components.schemas['io.k8s.api.core.v1.ThingList']).toBeDefined();
    // No scale subresource: no Scale schema in this group-version.
    expect(core.components.schemas[SCALE]).toBeUndefined();
  });

  it('rejects references to unknown definitions and duplicate resources', () => {
    const bad = structuredClone(thingDefinition);
    bad.schema.properties!.ref = { $ref: '#/components/schemas/io.example.Nope' };
    expect(() => buildOpenAPIV3([bad])).toThrow(/unknown definition "io.example.Nope"/);
    const ok = structuredClone(thingDefinition);
    ok.schema.properties!.when = { $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Time' };
    expect(() => buildOpenAPIV3([ok])).not.toThrow();
    expect(() => buildOpenAPIV3([thingDefinition, { ...thingDefinition, kind: 'Other' }])).toThrow(
      /duplicate resource/,
    );
  });

  it('adds apiVersion, kind and metadata to embedded resources', () => {
    const def = structuredClone(thingDefinition);
    def.schema.properties!.template = {
      type: 'object',
      'x-kubernetes-embedded-resource': true,
      'x-kubernetes-preserve-unknown-fields': true,
      description: 'An object.',
    };
    const doc = v3Doc([def], 'api/v1');
    const t = doc.components.schemas['io.k8s.api.core.v1.Thing'].properties.template;
    expect(Object.keys(t.properties)).toEqual(['apiVersion', 'kind', 'metadata']);
    expect(t.required).toEqual(['kind', 'apiVersion']);
  });
});

describe('OpenAPI v2', () => {
  it('has the same paths as v3 with Swagger-style operations', () => {
    const v2 = v2Doc();
    const v3gizmo = v3Doc();
    const v3core = v3Doc(testDefinitions, 'api/v1');
    expect(v2.swagger).toBe('2.0');
    expect(Object.keys(v2.paths).sort()).toEqual([...Object.keys(v3gizmo.paths), ...Object.keys(v3core.paths)].sort());
    const patch = v2.paths[`${NS}/{name}`].patch;
    expect(patch.consumes).toEqual([
      'application/json-patch+json',
      'application/merge-patch+json',
      'application/apply-patch+yaml',
    ]);
    expect(patch['x-kubernetes-action']).toBe('patch');
    expect(patch['x-kubernetes-group-version-kind']).toEqual({
      group: 'example.upm.io',
      version: 'v1beta1',
      kind: 'Gizmo',
    });
    expect(patch.parameters[0]).toEqual({
      name: 'body',
      in: 'body',
      required: true,
      schema: { $ref: '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch' },
    });
    expect(patch.parameters.slice(1).map((p: Doc) => p.name)).toEqual([
      'dryRun',
      'fieldManager',
      'fieldValidation',
      'force',
    ]);
    expect(patch.parameters[1]).toMatchObject({ in: 'query', type: 'string', uniqueItems: true });
    expect(patch.responses['200']).toEqual({
      description: 'OK',
      schema: { $ref: '#/definitions/io.upm.example.v1beta1.Gizmo' },
    });
    expect(v2.paths[NS].get.produces).toEqual(['application/json', 'application/json;stream=watch']);
    expect(v2.paths[`${NS}/{name}/scale`].put['x-kubernetes-group-version-kind']).toEqual({
      group: 'autoscaling',
      version: 'v1',
      kind: 'Scale',
    });
  });

  it('publishes definitions as kube does for CRDs in v2', () => {
    const v2 = v2Doc();
    const gizmo = v2.definitions['io.upm.example.v1beta1.Gizmo'];
    expect(gizmo['x-kubernetes-group-version-kind']).toEqual([
      { group: 'example.upm.io', kind: 'Gizmo', version: 'v1beta1' },
    ]);
    // $ref keeps its description next to it in v2.
    expect(gizmo.properties.metadata).toEqual({
      $ref: `#/definitions/${OBJECT_META}`,
      description: expect.stringContaining("Standard object's metadata"),
    });
    const spec = gizmo.properties.spec;
    expect(spec.properties.storage.properties.volumes.items.properties.name.description).toBe('Volume name.');
    // nullable: no type/properties, not required; preserve-unknown-fields: no properties/items.
    expect(spec.properties.limits).toEqual({ description: 'Optional limits; null clears them.' });
    expect(spec.properties.storage.properties.className).toEqual({
      description: 'StorageClass; null for the default class.',
    });
    expect(spec.properties.extra).toEqual({
      type: 'object',
      'x-kubernetes-preserve-unknown-fields': true,
      description: 'Free-form settings.',
    });
    expect(spec.properties.anything).toEqual({
      'x-kubernetes-preserve-unknown-fields': true,
      description: 'Free-form list.',
    });
    expect(spec.properties.choice).toEqual({ type: 'string', description: 'One of two.' });
    expect(JSON.stringify(v2.definitions)).not.toMatch(/"(nullable|anyOf|oneOf|allOf|not)"/);
    expect(JSON.stringify(v2.definitions)).not.toContain('#/components/');
    // Every reference resolves.
    for (const r of new Set(JSON.stringify(v2).match(/"#\/definitions\/[^"]+"/g) ?? [])) {
      expect(v2.definitions[JSON.parse(r).replace('#/definitions/', '')]).toBeDefined();
    }
    // DeleteOptions is registered in every served group-version.
    expect(v2.definitions[DELETE_OPTIONS]['x-kubernetes-group-version-kind']).toEqual([
      { group: '', kind: 'DeleteOptions', version: 'v1' },
      { group: 'example.upm.io', kind: 'DeleteOptions', version: 'v1beta1' },
    ]);
  });

  it('is deterministic and its ETags are quoted sha512 hashes', () => {
    const a = buildOpenAPIV2(testDefinitions);
    const b = buildOpenAPIV2([...testDefinitions].reverse());
    expect(b.json.equals(a.json)).toBe(true);
    expect(b.proto.equals(a.proto)).toBe(true);
    expect(a.etag).toBe(`"${createHash('sha512').update(a.json).digest('hex').toUpperCase()}"`);
    expect(a.protoEtag).toBe(`"${createHash('sha512').update(a.proto).digest('hex').toUpperCase()}"`);
    expect(a.etag).not.toBe(a.protoEtag);
  });

  it('works for an empty set of definitions', () => {
    const v2 = buildOpenAPIV2([]);
    expect(JSON.parse(v2.json.toString())).toMatchObject({ swagger: '2.0', paths: {}, definitions: {} });
    expect(buildOpenAPIV3([]).root).toEqual({ paths: {} });
    expect(doohickeyDefinition.verbs).toBeDefined();
  });
});
