// How objects are stored and served as JSON without parsing them again.
//
// Storage holds an object's JSON without metadata.resourceVersion (the revision of the write is
// its resourceVersion). Serving a stored value used to mean JSON.parse, set the resourceVersion,
// JSON.stringify: together the largest cost of a GET and of a LIST (profiles in bench/README.md).
// Values are written with `apiVersion`, `kind` and `metadata` first, so the resourceVersion can
// be spliced into the text right after `"metadata":{`. A value that does not start that way (one
// written before this layout, or with an empty metadata) takes the parse/stringify path.

import type { KubeObject } from '../../machinery/object.js';

/** The JSON text storage keeps for an object: apiVersion, kind, metadata first, no resourceVersion. */
export function encodeForStorage(obj: KubeObject): string {
  const { resourceVersion: _rv, ...metadata } = obj.metadata;
  const { apiVersion, kind, metadata: _m, ...rest } = obj;
  return JSON.stringify({ apiVersion, kind, metadata, ...rest });
}

// apiVersion and kind are validated against the request path, so they hold no quote or escape.
const storedHead = /^\{"apiVersion":"[^"\\]*","kind":"[^"\\]*","metadata":\{(?=")/;

/** The JSON of a stored object as served: the stored text with its resourceVersion. */
export function servedJSON(stored: string, revision: number): string {
  const head = storedHead.exec(stored);
  if (head) return `${head[0]}"resourceVersion":"${revision}",${stored.slice(head[0].length)}`;
  const obj = JSON.parse(stored) as KubeObject;
  obj.metadata.resourceVersion = String(revision);
  return JSON.stringify(obj);
}

/**
 * An object as served, known by its JSON or by the object. Made from JSON, the parsed object is
 * made on first use and then kept only while someone else holds it (a WeakRef), so a long-lived
 * holder (the watch cache) costs about the size of the text. Made from an object, the JSON is
 * written on first use. Every caller of object() gets the same instance while it lives: it is
 * shared and must not be modified.
 */
export class ServedObject {
  private text: string | undefined;
  private held: KubeObject | undefined;
  private ref: WeakRef<KubeObject> | undefined;

  private constructor() {}

  static fromJSON(json: string, parsed?: KubeObject): ServedObject {
    const s = new ServedObject();
    s.text = json;
    if (parsed) s.ref = new WeakRef(parsed);
    return s;
  }

  static fromStored(kv: { value: string; modRevision: number }): ServedObject {
    return ServedObject.fromJSON(servedJSON(kv.value, kv.modRevision));
  }

  static fromObject(obj: KubeObject): ServedObject {
    const s = new ServedObject();
    s.held = obj;
    return s;
  }

  get json(): string {
    return (this.text ??= JSON.stringify(this.held));
  }

  object(): KubeObject {
    if (this.held) return this.held;
    let obj = this.ref?.deref();
    if (!obj) {
      obj = JSON.parse(this.text!) as KubeObject;
      this.ref = new WeakRef(obj);
    }
    return obj;
  }
}

const writtenJSON = new WeakMap<KubeObject, string>();

/** Remembers the served JSON of an object a write just stored (its stored text with the new
 * resourceVersion), so the response need not serialize it again. The object must not change. */
export function rememberServedJSON(obj: KubeObject, json: string): void {
  writtenJSON.set(obj, json);
}

/** The JSON remembered for an object by rememberServedJSON. */
export function servedJSONOf(obj: KubeObject): string | undefined {
  return writtenJSON.get(obj);
}
