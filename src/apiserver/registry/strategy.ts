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
}
