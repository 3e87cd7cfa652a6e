// Object and list metadata (meta/v1). Metadata belongs to the API machinery, not to a kind's
// schema, so these types are written by hand; the generated kind types refer to them.
// Timestamps are RFC 3339 strings as they travel in JSON.

/** An owner of an object; the garbage collector deletes the object once all its owners are gone. */
export interface OwnerReference {
  /** API version of the owner. */
  apiVersion: string;
  /** Kind of the owner. */
  kind: string;
  /** Name of the owner. */
  name: string;
  /** UID of the owner. */
  uid: string;
  /** Whether the owner is the managing controller. At most one owner reference is the controller. */
  controller?: boolean;
  /** With foreground deletion, whether the owner waits for this object to be deleted first. */
  blockOwnerDeletion?: boolean;
}

/** A record of the fields one manager owns (server-side apply). */
export interface ManagedFieldsEntry {
  /** Identifier of the workflow managing these fields. */
  manager?: string;
  /** The operation that caused this entry: Apply or Update. */
  operation?: 'Apply' | 'Update';
  /** API version of the fields in fieldsV1. */
  apiVersion?: string;
  /** When the entry was last changed. */
  time?: string;
  /** Format of the field set; only FieldsV1. */
  fieldsType?: 'FieldsV1';
  /** The set of fields, in FieldsV1 encoding. */
  fieldsV1?: Record<string, unknown>;
  /** Subresource the fields were written through (status, scale), empty for the main resource. */
  subresource?: string;
}

/** Metadata every persisted object has. */
export interface ObjectMeta {
  /** Name, unique within a namespace (or the cluster for cluster-scoped kinds). */
  name?: string;
  /** Prefix the server completes with a random suffix to generate a name, when name is empty. */
  generateName?: string;
  /** Namespace of a namespaced object. */
  namespace?: string;
  /** Unique identifier set by the server. */
  uid?: string;
  /** Opaque version set by the server, used for optimistic concurrency and watches. */
  resourceVersion?: string;
  /** Sequence number of changes to the desired state, set by the server. */
  generation?: number;
  /** When the object was created, set by the server. */
  creationTimestamp?: string;
  /** When graceful deletion was requested, set by the server. */
  deletionTimestamp?: string;
  /** Seconds allowed for graceful termination once deletionTimestamp is set. */
  deletionGracePeriodSeconds?: number;
  /** Labels: identifying key/value pairs used by selectors. */
  labels?: Record<string, string>;
  /** Annotations: non-identifying key/value pairs for tools and controllers. */
  annotations?: Record<string, string>;
  /** Objects this object depends on. */
  ownerReferences?: OwnerReference[];
  /** Keys that must be removed before the object is deleted from storage. */
  finalizers?: string[];
  /** Field ownership records of server-side apply. */
  managedFields?: ManagedFieldsEntry[];
  /** Deprecated and never set; cleared from requests as kube-apiserver does. */
  selfLink?: string;
}

/** Metadata of a list response. */
export interface ListMeta {
  /** Resource version of the list, for a watch that continues from it. */
  resourceVersion?: string;
  /** Token for the next page of a paginated list. */
  continue?: string;
  /** Number of items after this page, when the server can compute it. */
  remainingItemCount?: number;
}
