// JSON patch (RFC 6902) with JSON pointers (RFC 6901). A failed operation or test throws
// JSONPatchError; the caller maps it to 422 as kube-apiserver does.

import { isPlainObject, jsonDepth, jsonEqual, maxObjectDepth } from '../../machinery/object.js';

export class JSONPatchError extends Error {}

/** kube-apiserver's limit on the number of operations in one JSON patch. */
export const maxJSONPatchOperations = 10000;

/** kube-apiserver's JSONPatchMaxCopyBytes: how much `copy` operations may copy in total. */
export const maxJSONPatchCopyBytes = 3 * 1024 * 1024;

type Op = { op: string; path: string; value?: unknown; from?: string };

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new JSONPatchError(`invalid JSON pointer "${pointer}"`);
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function childOf(container: unknown, token: string, pointer: string): unknown {
  if (Array.isArray(container)) {
    const i = arrayIndex(token, container.length - 1, pointer);
    return container[i];
  }
  if (isPlainObject(container)) {
    if (!Object.prototype.hasOwnProperty.call(container, token))
      throw new JSONPatchError(`missing value at "${pointer}"`);
    return container[token];
  }
  throw new JSONPatchError(`cannot traverse a ${container === null ? 'null' : typeof container} at "${pointer}"`);
}

function arrayIndex(token: string, max: number, pointer: string): number {
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new JSONPatchError(`invalid array index "${token}" in "${pointer}"`);
  const i = Number(token);
  if (i > max) throw new JSONPatchError(`array index ${i} out of bounds in "${pointer}"`);
  return i;
}

function resolveParent(doc: unknown, pointer: string): { parent: unknown; token: string } {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) throw new JSONPatchError('the root cannot be the target of this operation');
  let cur = doc;
  for (const t of tokens.slice(0, -1)) cur = childOf(cur, t, pointer);
  return { parent: cur, token: tokens[tokens.length - 1] };
}

function getAt(doc: unknown, pointer: string): unknown {
  let cur = doc;
  for (const t of parsePointer(pointer)) cur = childOf(cur, t, pointer);
  return cur;
}

function add(doc: unknown, pointer: string, value: unknown): unknown {
  if (pointer === '') return value;
  const { parent, token } = resolveParent(doc, pointer);
  if (Array.isArray(parent)) {
    const i = token === '-' ? parent.length : arrayIndex(token, parent.length, pointer);
    parent.splice(i, 0, value);
  } else if (isPlainObject(parent)) {
    parent[token] = value;
  } else throw new JSONPatchError(`cannot add to a non-container at "${pointer}"`);
  return doc;
}

function remove(doc: unknown, pointer: string): { doc: unknown; removed: unknown } {
  const { parent, token } = resolveParent(doc, pointer);
  if (Array.isArray(parent)) {
    const i = arrayIndex(token, parent.length - 1, pointer);
    const [removed] = parent.splice(i, 1);
    return { doc, removed };
  }
  if (isPlainObject(parent) && Object.prototype.hasOwnProperty.call(parent, token)) {
    const removed = parent[token];
    delete parent[token];
    return { doc, removed };
  }
  throw new JSONPatchError(`unable to remove nonexistent key: ${token}: missing value`);
}

export function parseJSONPatch(body: unknown): Op[] {
  if (!Array.isArray(body)) throw new JSONPatchError('a JSON patch must be an array of operations');
  if (body.length > maxJSONPatchOperations)
    throw new JSONPatchError(
      `the allowed maximum operations in a JSON patch is ${maxJSONPatchOperations}, got ${body.length}`,
    );
  return body.map((op, i) => {
    if (!isPlainObject(op) || typeof op.op !== 'string' || typeof op.path !== 'string')
      throw new JSONPatchError(`operation ${i} must have string "op" and "path"`);
    if (['add', 'replace', 'test'].includes(op.op) && !('value' in op))
      throw new JSONPatchError(`operation ${i} (${op.op}) is missing "value"`);
    if (['move', 'copy'].includes(op.op) && typeof op.from !== 'string')
      throw new JSONPatchError(`operation ${i} (${op.op}) is missing "from"`);
    return op as Op;
  });
}

/** Keeps the document within maxObjectDepth, so no operation (or later step) overflows the stack. */
function checkPlacement(pointer: string, value: unknown): void {
  if (parsePointer(pointer).length + jsonDepth(value) > maxObjectDepth) {
    throw new JSONPatchError(
      `the result of the operation on "${pointer}" would be nested deeper than ${maxObjectDepth} levels`,
    );
  }
}

export function applyJSONPatch(target: unknown, ops: Op[]): unknown {
  let doc = structuredClone(target);
  let copied = 0;
  for (const op of ops) {
    switch (op.op) {
      case 'add':
        checkPlacement(op.path, op.value);
        doc = add(doc, op.path, structuredClone(op.value));
        break;
      case 'remove':
        doc = remove(doc, op.path).doc;
        break;
      case 'replace':
        checkPlacement(op.path, op.value);
        if (op.path === '') doc = structuredClone(op.value);
        else {
          doc = remove(doc, op.path).doc;
          doc = add(doc, op.path, structuredClone(op.value));
        }
        break;
      case 'move': {
        if (op.path.startsWith(`${op.from}/`))
          throw new JSONPatchError(`cannot move "${op.from}" into its own child "${op.path}"`);
        checkPlacement(op.path, getAt(doc, op.from!));
        const r = remove(doc, op.from!);
        doc = add(r.doc, op.path, r.removed);
        break;
      }
      case 'copy': {
        const value = getAt(doc, op.from!);
        checkPlacement(op.path, value);
        // Each copy can double the document: bound the total, as kube-apiserver does.
        copied += Buffer.byteLength(JSON.stringify(value) ?? '');
        if (copied > maxJSONPatchCopyBytes)
          throw new JSONPatchError(
            `unable to copy, would exceed the maximum accumulated copy size of ${maxJSONPatchCopyBytes} bytes`,
          );
        doc = add(doc, op.path, structuredClone(value));
        break;
      }
      case 'test':
        if (!jsonEqual(getAt(doc, op.path), op.value)) throw new JSONPatchError(`testing value ${op.path} failed`);
        break;
      default:
        throw new JSONPatchError(`unexpected operation "${op.op}"`);
    }
  }
  return doc;
}
