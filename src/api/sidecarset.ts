// SidecarSet: containers injected into the Pods of matching Units (log shippers, security
// scanners, backup agents, ...), kept up to date independently of the UnitTemplates.

import {
  ageColumn,
  conditions,
  defineUpmResource,
  containers,
  labelSelector,
  named,
  observedGeneration,
  volumeSchema,
} from './common.js';
import { bool, enumStr, int32, intOrString, listMap, object, str } from '../machinery/schema.js';

const sidecarSetSpec = named(
  'SidecarSetSpec',
  object(
    'Desired state of a SidecarSet.',
    {
      selector: labelSelector(
        'Selects the Pods of Units to inject into, by Pod labels (every Unit Pod has upm.io/unitset, upm.io/unit, ' +
          'upm.io/type and upm.io/version). An empty selector matches every Unit Pod.',
      ),
      namespaceSelector: labelSelector(
        'Limits injection to namespaces whose labels match. All namespaces when omitted.',
      ),
      containers: containers(
        'Containers added to the Pod. A container whose name already exists in the Pod is not injected (condition ' +
          'Conflict on the SidecarSet).',
        { minItems: 1 },
      ),
      initContainers: containers(
        'Init containers added to the Pod, before or after those of the template (see injection).',
      ),
      volumes: listMap(
        'Volumes the injected containers need, added to the Pod unless a volume of the same name exists.',
        ['name'],
        volumeSchema,
        {
          maxItems: 64,
        },
      ),
      injection: named(
        'SidecarSetInjection',
        object(
          'Where and how containers are injected.',
          {
            position: enumStr(
              'Position of the injected containers relative to the containers of the template. BeforeAppContainer ' +
                'starts them first (and, for init containers, runs them first); AfterAppContainer puts them last.',
              ['BeforeAppContainer', 'AfterAppContainer'],
              { default: 'AfterAppContainer' },
            ),
            shareVolumes: bool(
              'Whether the injected containers also mount the volumes of the main container (data, log, ...) at the same ' +
                'paths, for example for a log shipper.',
              { default: false },
            ),
            priority: int32('Order among SidecarSets injecting into the same Pod: lower values are injected first.', {
              default: 0,
            }),
          },
          { default: {} },
        ),
      ),
      updateStrategy: named(
        'SidecarSetUpdateStrategy',
        object(
          'How changes to the SidecarSet reach Pods that already have the sidecars.',
          {
            type: enumStr(
              'RollingUpdate: image changes are applied in place (only the sidecar container restarts), Pod by Pod; ' +
                'other changes wait until the Pod is recreated. OnDelete: only Pods created from now on get the new ' +
                'version.',
              ['RollingUpdate', 'OnDelete'],
              { default: 'RollingUpdate' },
            ),
            maxUnavailable: intOrString(
              'Maximum number (or percentage, such as 10%) of matched Pods whose sidecars are being updated or not ' +
                'ready at the same time.',
              { pattern: '^(0|[1-9][0-9]*)%?$', default: 1 },
            ),
            paused: bool('Stops the rolling update where it is.', { default: false }),
          },
          { default: {} },
        ),
      ),
    },
    { required: ['selector', 'containers'] },
  ),
);

const sidecarSetStatus = named(
  'SidecarSetStatus',
  object('Observed state of a SidecarSet.', {
    observedGeneration: observedGeneration('the SidecarSet'),
    revision: str('Hash of the containers, initContainers and volumes of the current spec.'),
    matchedPods: int32('Number of Unit Pods the selectors match.', { minimum: 0 }),
    updatedPods: int32('Number of matched Pods whose sidecars are at the current revision.', { minimum: 0 }),
    readyPods: int32('Number of matched Pods that are Ready.', { minimum: 0 }),
    updatedReadyPods: int32('Number of matched Pods at the current revision that are Ready.', { minimum: 0 }),
    conditions: conditions({
      Ready: 'True when every matched Pod runs the current revision and is Ready.',
      Progressing: 'True while sidecars are being updated.',
      Conflict: 'True when a container or volume name clashes with a Pod or another SidecarSet (message lists them).',
    }),
  }),
);

export const sidecarSetDefinition = defineUpmResource({
  kind: 'SidecarSet',
  shortNames: ['sds'],
  namespaced: false,
  description:
    'SidecarSet injects containers (and the volumes they need) into the Pods of matching Units when the Pods are ' +
    'created, and updates them in place when their image changes, so auxiliary programs such as log shippers, security ' +
    'scanners or backup agents are managed once for many services instead of in every UnitTemplate.',
  schemaDescription: 'SidecarSet injects containers into the Pods of matching Units.',
  spec: sidecarSetSpec,
  status: sidecarSetStatus,
  printerColumns: [
    { name: 'Matched', jsonPath: '.status.matchedPods' },
    { name: 'Updated', jsonPath: '.status.updatedPods' },
    { name: 'Ready', jsonPath: '.status.readyPods' },
    { name: 'Revision', jsonPath: '.status.revision', priority: 1 },
    ageColumn,
  ],
});
