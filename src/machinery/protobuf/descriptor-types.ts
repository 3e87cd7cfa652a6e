// The shape of the generated descriptor of the built-in kinds (generated/descriptor.ts): their
// protobuf messages and the strategic merge patch metadata of their fields.

/** [jsonName, field number, type (a scalar or a message's full name), flags, map key type]. */
export type FieldDescriptor = [string, number, string, number] | [string, number, string, number, string];

export interface Descriptor {
  /** The Go modules the descriptor was derived from. */
  source: string[];
  /** `<apiVersion>/<Kind>` → full message name. */
  kinds: Record<string, string>;
  /** `+protobuf.*` markers of a message: `nullable=true`, `embed=string`, `as=Timestamp`. */
  annotations: Record<string, string[]>;
  /** Strategic merge patch metadata from the Go struct tags: message → JSON field → [patchStrategy, patchMergeKey?]. */
  patch: Record<string, Record<string, [string] | [string, string]>>;
  messages: Record<string, FieldDescriptor[]>;
}

export const FIELD_REPEATED = 1;
export const FIELD_INLINE = 2;
export const FIELD_OMITEMPTY = 4;
export const FIELD_POINTER = 8;
