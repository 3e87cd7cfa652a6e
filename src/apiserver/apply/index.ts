// Server-side apply (structured-merge-diff semantics) and metadata.managedFields tracking,
// specified by /work/shared/reference/server-side-apply.md. Both entry points are pure
// (no I/O, inputs never mutated), so dryRun is the same call without the storage write.
//
// How the generic registry uses it:
//
// PATCH application/apply-patch+yaml (main resource or /status):
//   validatePatchOptions({ patchType: 'apply', fieldManager, force })      // 422s
//   const { object, warnings } = decodeApplyBody(text, fieldValidation)     // 400s
//   live = current object, or undefined (creates; /status of a missing object is the caller's 404)
//   caller checks: body metadata.uid on a missing object (409), non-empty body
//   metadata.resourceVersion as a precondition (409)
//   const obj = applyPatch({ live, applied: object, manager: fieldManager, force, schema: def.schema,
//     apiVersion: groupVersion(def), kind: def.kind, subresource, statusSubresource: !!def.subresources.status,
//     name, namespace, defaulter })                                        // 400 / 409 Conflict / 500
//   if (live && jsonEqual(obj, live)) → no-op: answer live, no write, same resourceVersion
//   else continue the ordinary create (201) / update (200) path with `obj`: restore or set the
//   server-owned metadata (uid, creationTimestamp, generation, resourceVersion, deletion*), prune
//   unknown fields, validate, admission, store. Keep obj.metadata.managedFields as returned; do
//   NOT run updateManagedFields on an apply result.
//
// Every other write (POST, PUT, merge/JSON patch, /status, /scale):
//   after the new object is built (body decoded or patch applied to live, defaults applied,
//   strategy run) and before validation/storage:
//   obj = updateManagedFields({ old: live /* undefined on create */, updated: obj,
//     manager: fieldManager || managerFromUserAgent(userAgent), apiVersion, schema: def.schema,
//     subresource /* 'status' | 'scale' */, statusSubresource })
//   Leave the body's metadata.managedFields on `updated`: [] / [{}] mean "reset", a valid list
//   replaces the entries (kubectl's CSA→SSA migration uses a JSON patch for this). The
//   function never throws. /scale writes are translated to the parent object first.
//   validateFieldManager(fieldManager, 'fieldManager') for create/update options (422).

export {
  applyPatch,
  conflictError,
  decodeApplyBody,
  pruneNulls,
  updateManagedFields,
  validatePatchOptions,
  type ApplyOptions,
  type PatchType,
  type UpdateManagedFieldsOptions,
} from './apply.js';
export {
  FieldSet,
  fieldPE,
  fromFieldsV1,
  keyPE,
  parsePE,
  pathToString,
  toFieldsV1,
  toFieldsV1JSON,
  valuePE,
  type FieldsV1,
  type Path,
  type PathElement,
} from './fieldset.js';
export {
  ANCIENT_CHANGES_MANAGER,
  BEFORE_FIRST_APPLY_MANAGER,
  DEFAULT_MAX_UPDATE_MANAGERS,
  FIELD_MANAGER_MAX_LENGTH,
  LAST_APPLIED_ANNOTATION,
  LAST_APPLIED_PATH,
  capUpdateManagers,
  decodeManagedFields,
  encodeManagedFields,
  findFieldsOwners,
  isResetManagedFields,
  managerFromUserAgent,
  managerIdentity,
  upgradeManagedFields,
  validateFieldManager,
  validateManagedFieldsEntries,
  type Managed,
  type ManagerEntry,
} from './managed-fields.js';
export { mergeValues, prune, removeItems } from './merge.js';
export {
  compareObjects,
  kindType,
  resetItemMemo,
  toFieldSet,
  typeFromSchema,
  validateValue,
  type Comparison,
  type TypeNode,
} from './schema-walk.js';
