// What the registry asks admission (the webhook chain) on every write, in kube's order:
// mutating admission after decoding and defaulting, validating admission after the kind's own
// validation, both before the object is stored.

import type { AdmissionAttributes } from '../admission/types.js';
import type { KubeObject } from '../../machinery/object.js';

export interface AdmissionHook {
  admit(attrs: AdmissionAttributes): Promise<{ object: KubeObject | null }>;
  validate(attrs: AdmissionAttributes): Promise<unknown>;
}
