// Well-known labels and annotations of upm.io objects.

/** Names the UnitSet a Unit, Pod or Service belongs to; the UnitSet's scale selector. */
export const unitSetLabel = 'upm.io/unitset';
/** Names the Unit a Pod or Service belongs to. */
export const unitLabel = 'upm.io/unit';
/** The service type of a Unit's Pod (UnitSet spec.type). */
export const unitTypeLabel = 'upm.io/type';
/** The service version of a Unit's Pod (UnitSet spec.version). */
export const unitVersionLabel = 'upm.io/version';
