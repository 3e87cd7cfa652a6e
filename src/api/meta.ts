// Object and list metadata as the generated kind types see it: owned by the API machinery.

export type { ListMeta, ManagedFieldsEntry, ObjectMeta, OwnerReference } from '../machinery/meta.js';
