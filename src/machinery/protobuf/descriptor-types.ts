// The shape of the generated protobuf descriptor (generated/descriptor.ts).

/** [jsonName, field number, type (a scalar or a message's full name), flags, map key type]. */
export type FieldDescriptor = [string, number, string, number] | [string, number, string, number, string];

export interface Descriptor {
  /** The Go modules the descriptor was derived from. */
  source: string[];
  /** `<apiVersion>/<Kind>` → full message name. */
  kinds: Record<string, string>;
  /** `+protobuf.*` markers of a message: `nullable=true`, `embed=string`, `as=Timestamp`. */
  annotations: Record<string, string[]>;
  messages: Record<string, FieldDescriptor[]>;
}

export const FIELD_REPEATED = 1;
export const FIELD_INLINE = 2;
export const FIELD_OMITEMPTY = 4;
export const FIELD_POINTER = 8;
