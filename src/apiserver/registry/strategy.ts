// Kind-specific behaviour plugged into the generic store, as kube's RESTCreateStrategy /
// RESTUpdateStrategy do. Everything is optional: most kinds need nothing beyond their schema.

import type { FieldError } from '../../machinery/errors.js';
import type { KubeObject } from '../../machinery/object.js';

export interface Strategy {
  /** Validates metadata.name; a DNS-1123 subdomain when absent (RBAC kinds allow path segments). */
  validateName?(name: string): string[];
  /** Fills computed defaults after schema defaults; runs before validation on create. */
  prepareForCreate?(obj: KubeObject): void;
  /** Same for update and patch of the main resource. */
  prepareForUpdate?(obj: KubeObject, old: KubeObject): void;
  /** Semantic validation beyond the schema. */
  validate?(obj: KubeObject): FieldError[];
  /** Validation of a change, e.g. immutable fields. */
  validateUpdate?(obj: KubeObject, old: KubeObject): FieldError[];
  /**
   * Finalizers kept outside metadata.finalizers that also hold a deleted object until they are
   * gone: a Namespace's spec.finalizers, which only the finalize subresource changes.
   */
  pendingFinalizers?(obj: KubeObject): string[];
  /** Marks an object whose deletion starts and is held (a Namespace's phase turns Terminating). */
  prepareForDeletion?(obj: KubeObject): void;
  /** When set, deleting an object pendingFinalizers still hold answers 409 with this detail
   * (kube's namespace store) instead of 200 with the object. */
  deletionPendingMessage?: string;
  /** Builds the stored object of a write through the finalize subresource; without it the
   * subresource does not exist. */
  prepareForFinalize?(desired: KubeObject, current: KubeObject): KubeObject;
}
