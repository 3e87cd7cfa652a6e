// Well-known labels and annotations of upm.io objects.

/** Names the UnitSet a Unit, Pod or Service belongs to; the UnitSet's scale selector. */
export const unitSetLabel = 'upm.io/unitset';
/** Names the Unit a Pod or Service belongs to. */
export const unitLabel = 'upm.io/unit';
/** Ordinal of a Unit in its UnitSet (`<unitset>-<ordinal>`), on Units and Pods. */
export const ordinalLabel = 'upm.io/ordinal';
/** Service type (UnitSet spec.type) on Units and Pods. */
export const typeLabel = 'upm.io/type';
/** Service version (UnitSet spec.version) on Units and Pods. */
export const versionLabel = 'upm.io/version';
/** Revision of the UnitSet a Unit was rendered from (status.updateRevision at the time), as controller-revision-hash. */
export const revisionLabel = 'upm.io/revision';
/** Replication role of the instance on the Pod (primary, replica), set by the replication controllers. */
export const roleLabel = 'upm.io/role';
/** "true" on Pods of Units in service; Services of the UnitSet select it, so a Unit with spec.unservice drops out. */
export const inServiceLabel = 'upm.io/in-service';
/** Name of the Unit volume a PersistentVolumeClaim belongs to. */
export const volumeLabel = 'upm.io/volume';

/** Hash of the rendered configuration files a Pod runs with; a change reaches the agent without a restart. */
export const configRevisionAnnotation = 'upm.io/config-revision';
/** Hash of everything that needs a new Pod to take effect (Pod spec, restart-only configuration). */
export const restartRevisionAnnotation = 'upm.io/restart-revision';
/** JSON object of the values of the parameters that need a restart, as the Pod was started with them. */
export const restartParametersAnnotation = 'upm.io/restart-parameters';
/** Hash of the configuration files and parameter definitions of the UnitTemplate a Unit was rendered from. */
export const templateHashAnnotation = 'upm.io/template-hash';
/** The container kubectl logs and exec pick by default (kubectl's own annotation). */
export const defaultContainerAnnotation = 'kubectl.kubernetes.io/default-container';
