// Structural-schema operations kube-apiserver applies to custom resources before validation:
// defaulting from `default` keywords and pruning of fields the schema does not declare
// (k8s.io/apiextensions-apiserver/pkg/apiserver/schema/{defaulting,pruning}).

import type { JSONSchema } from '../../machinery/definition.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/** The sub-schemas that describe the same node (allOf/anyOf/oneOf branches carry no new
 * properties in structural schemas, but int-or-string and similar use anyOf). */
function branches(schema: JSONSchema): JSONSchema[] {
  return [schema, ...(schema.allOf ?? [])];
}

/** Sets absent fields that have a `default`, recursively, in place. */
export function applyDefaults(value: unknown, schema: JSONSchema): void {
  if (isObject(value)) {
    for (const s of branches(schema)) {
      if (s.properties) {
        for (const [name, prop] of Object.entries(s.properties)) {
          if (value[name] === undefined && prop.default !== undefined) value[name] = clone(prop.default);
          if (value[name] !== undefined && value[name] !== null) applyDefaults(value[name], prop);
        }
      }
      if (s.additionalProperties && typeof s.additionalProperties === 'object') {
        for (const [name, v] of Object.entries(value)) {
          if (s.properties && Object.hasOwn(s.properties, name)) continue;
          if (v !== null) applyDefaults(v, s.additionalProperties);
        }
      }
    }
  } else if (Array.isArray(value) && schema.items) {
    for (const item of value) if (item !== null) applyDefaults(item, schema.items);
  }
}

/**
 * Removes fields the schema does not declare, in place, and returns their paths
 * (`spec.foo`, `spec.list[0].bar`) for fieldValidation=Warn/Strict.
 */
export function prune(value: unknown, schema: JSONSchema, path = ''): string[] {
  const unknown: string[] = [];
  pruneInto(value as Json, schema, path, unknown);
  return unknown;
}

function joinPath(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

function pruneInto(value: Json, schema: JSONSchema, path: string, unknown: string[]): void {
  if (
    schema['x-kubernetes-preserve-unknown-fields'] &&
    !schema.properties &&
    !schema.items &&
    !schema.additionalProperties
  )
    return;
  if (isObject(value)) {
    const props: Record<string, JSONSchema> = {};
    let additional: JSONSchema | boolean | undefined;
    for (const s of branches(schema)) {
      Object.assign(props, s.properties ?? {});
      if (s.additionalProperties !== undefined) additional = s.additionalProperties;
    }
    const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
    for (const name of Object.keys(value)) {
      const child = value[name];
      // Own properties only: a field named `constructor` or `__proto__` is not declared by `{}`.
      if (Object.hasOwn(props, name)) {
        if (child !== null) pruneInto(child, props[name], joinPath(path, name), unknown);
      } else if (additional && typeof additional === 'object') {
        if (child !== null) pruneInto(child, additional, joinPath(path, name), unknown);
      } else if (additional === true || preserve) {
        continue;
      } else {
        unknown.push(joinPath(path, name));
        delete value[name];
      }
    }
  } else if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => {
      if (item !== null) pruneInto(item, schema.items!, `${path}[${i}]`, unknown);
    });
  }
}
