// Strategic merge patch metadata of the built-in kinds: for each JSON field, the patch strategies
// (`merge`, `replace`, `retainKeys`) and merge key that k8s.io/api's Go struct tags declare
// (`patchStrategy:"merge" patchMergeKey:"name"`), read from the generated descriptor, and the
// metadata of the field's value. kube-apiserver and kubectl read the same tags.

import { descriptor } from './generated/descriptor.js';
import { FIELD_INLINE, type FieldDescriptor } from './descriptor-types.js';
import { protobufMessageOf } from './kube.js';

export interface FieldPatchMeta {
  /** e.g. ['merge'], ['merge', 'retainKeys'], [] (replace, the default for lists). */
  strategies: string[];
  mergeKey?: string;
  /** The metadata of the value (of a list's items); undefined for scalars and unknown fields. */
  value?: PatchMeta;
}

export interface PatchMeta {
  /** The metadata of a field of this object, or undefined when the type does not declare it. */
  field(name: string): FieldPatchMeta | undefined;
}

/** Messages whose JSON form is a scalar (times, quantities, int-or-strings) or raw JSON. */
const scalarMessages = new Set([
  'k8s.io.apimachinery.pkg.apis.meta.v1.Time',
  'k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime',
  'k8s.io.apimachinery.pkg.apis.meta.v1.Duration',
  'k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1',
  'k8s.io.apimachinery.pkg.util.intstr.IntOrString',
  'k8s.io.apimachinery.pkg.api.resource.Quantity',
  'k8s.io.apimachinery.pkg.runtime.RawExtension',
]);

const cache = new Map<string, MessagePatchMeta>();

function valueMeta(type: string): PatchMeta | undefined {
  if (!type.includes('.') || scalarMessages.has(type)) return undefined;
  if ((descriptor.annotations[type] ?? []).includes('nullable=true')) return undefined; // a list of scalars
  let meta = cache.get(type);
  if (!meta) {
    meta = new MessagePatchMeta(type);
    cache.set(type, meta);
  }
  return meta;
}

class MessagePatchMeta implements PatchMeta {
  private fields?: Map<string, FieldPatchMeta>;

  constructor(private readonly name: string) {}

  field(name: string): FieldPatchMeta | undefined {
    this.fields ??= this.collect(this.name, new Map());
    return this.fields.get(name);
  }

  /** The fields of `message` by JSON name, inline (embedded) structs flattened into it. */
  private collect(message: string, out: Map<string, FieldPatchMeta>): Map<string, FieldPatchMeta> {
    const fields: FieldDescriptor[] = descriptor.messages[message] ?? [];
    const patch = descriptor.patch[message] ?? {};
    for (const [json, , type, flags, mapKey] of fields) {
      if (flags & FIELD_INLINE) {
        this.collect(type, out);
        continue;
      }
      const [strategy, mergeKey] = patch[json] ?? [];
      const value = mapKey ? new MapPatchMeta(valueMeta(type)) : valueMeta(type);
      out.set(json, {
        strategies: strategy ? strategy.split(',') : [],
        ...(mergeKey ? { mergeKey } : {}),
        ...(value ? { value } : {}),
      });
    }
    return out;
  }
}

/** A map field (labels, resource lists): every key holds a value of one type. */
class MapPatchMeta implements PatchMeta {
  constructor(private readonly values: PatchMeta | undefined) {}

  field(): FieldPatchMeta {
    return { strategies: [], ...(this.values ? { value: this.values } : {}) };
  }
}

/** The metadata of a built-in kind, or undefined for kinds without Go types (upm.io, CRDs). */
export function builtinPatchMeta(apiVersion: string, kind: string): PatchMeta | undefined {
  const message = protobufMessageOf(apiVersion, kind);
  return message ? valueMeta(message) : undefined;
}
