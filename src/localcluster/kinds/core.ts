// core/v1 kinds (group ''), served under /api/v1: the part of the built-in API the local control
// plane needs. Names, short names, scope, verbs and subresources are kube's; schemas are
// permissive (see schema.ts). The printer columns here are the JSONPath approximations a CRD
// could declare; tables.ts replaces them with kube's computed columns (READY 1/1, PORT(S), ...).

import { defineResource, type ResourceDefinition, type ResourceDefinitionInput } from '../../machinery/definition.js';
import {
  bool,
  conditionList,
  int32,
  int64,
  kindSchema,
  loose,
  looseList,
  looseMapList,
  quantityMap,
  str,
  stringMap,
  strings,
  time,
} from '../../machinery/schema.js';

const specDoc = (what: string) =>
  `${what} More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#spec-and-status`;
const ageColumn = { name: 'Age', jsonPath: '.metadata.creationTimestamp' } as const;

function core(def: Omit<ResourceDefinitionInput, 'group' | 'version'>): ResourceDefinition {
  return defineResource({ group: '', version: 'v1', ...def });
}

// ---- namespaces -------------------------------------------------------------------------------

export const namespaceDefinition = core({
  kind: 'Namespace',
  shortNames: ['ns'],
  namespaced: false,
  description: 'Namespace provides a scope for Names. Use of multiple namespaces is optional.',
  schema: kindSchema('Namespace provides a scope for Names. Use of multiple namespaces is optional.', {
    spec: loose(specDoc('Spec defines the behavior of the Namespace.'), {
      finalizers: strings(
        'Finalizers is an opaque list of values that must be empty to permanently remove object from storage. More info: https://kubernetes.io/docs/tasks/administer-cluster/namespaces/',
      ),
    }),
    status: loose(specDoc('Status describes the current status of a Namespace.'), {
      phase: str(
        'Phase is the current lifecycle phase of the namespace. More info: https://kubernetes.io/docs/tasks/administer-cluster/namespaces/',
        {
          enum: ['Active', 'Terminating'],
        },
      ),
      conditions: conditionList("Represents the latest available observations of a namespace's current state."),
    }),
  }),
  printerColumns: [
    { name: 'Status', jsonPath: '.status.phase', description: 'The status of the namespace' },
    ageColumn,
  ],
  subresources: { status: true, finalize: true },
  selectableFields: ['status.phase'],
  verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
});

// ---- pods -------------------------------------------------------------------------------------

const containerProps = {
  name: str(
    'Name of the container specified as a DNS_LABEL. Each container in a pod must have a unique name (DNS_LABEL). Cannot be updated.',
  ),
  image: str('Container image name. More info: https://kubernetes.io/docs/concepts/containers/images'),
  imagePullPolicy: str('Image pull policy. One of Always, Never, IfNotPresent.'),
  restartPolicy: str(
    'RestartPolicy defines the restart behavior of individual containers in a pod (init containers only: Always makes a sidecar).',
  ),
};

const containerStatusProps = {
  name: str('Name is a DNS_LABEL representing the unique name of the container.'),
  image: str('Image is the name of container image that the container is running.'),
  imageID: str("ImageID is the image ID of the container's image."),
  containerID: str("ContainerID is the ID of the container in the format '<type>://<container_id>'."),
  ready: bool('Ready specifies whether the container is currently passing its readiness check.'),
  started: bool(
    'Started indicates whether the container has finished its postStart lifecycle hook and passed its startup probe.',
  ),
  restartCount: int32('RestartCount holds the number of times the container has been restarted.'),
  state: loose("State holds details about the container's current condition."),
  lastState: loose('LastTerminationState holds the last termination state of the container.'),
};

export const podDefinition = core({
  kind: 'Pod',
  shortNames: ['po'],
  categories: ['all'],
  namespaced: true,
  description:
    'Pod is a collection of containers that can run on a host. This resource is created by clients and scheduled onto hosts.',
  schema: kindSchema(
    'Pod is a collection of containers that can run on a host. This resource is created by clients and scheduled onto hosts.',
    {
      spec: loose(specDoc('Specification of the desired behavior of the pod.'), {
        nodeName: str(
          'NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod.',
        ),
        containers: looseMapList(
          'List of containers belonging to the pod. Containers cannot currently be added or removed. There must be at least one container in a Pod. Cannot be updated.',
          ['name'],
          containerProps,
        ),
        initContainers: looseMapList(
          'List of initialization containers belonging to the pod.',
          ['name'],
          containerProps,
        ),
        restartPolicy: str('Restart policy for all containers within the pod. One of Always, OnFailure, Never.'),
        terminationGracePeriodSeconds: int64('Optional duration in seconds the pod needs to terminate gracefully.'),
        activeDeadlineSeconds: int64(
          'Optional duration in seconds the pod may be active on the node relative to StartTime before the system will actively try to mark it failed and kill associated containers.',
        ),
        dnsPolicy: str('Set DNS policy for the pod. Defaults to "ClusterFirst".'),
        nodeSelector: stringMap(
          "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node.",
        ),
        serviceAccountName: str('ServiceAccountName is the name of the ServiceAccount to use to run this pod.'),
        serviceAccount: str(
          'DeprecatedServiceAccount is a deprecated alias for ServiceAccountName. Deprecated: Use serviceAccountName instead.',
        ),
        schedulerName: str(
          'If specified, the pod will be dispatched by specified scheduler. If not specified, the pod will be dispatched by default scheduler.',
        ),
        hostNetwork: bool("Host networking requested for this pod. Use the host's network namespace."),
        priority: int32(
          'The priority value. Various system components use this field to find the priority of the pod.',
        ),
        tolerations: looseList("If specified, the pod's tolerations."),
        readinessGates: looseList('If specified, all readiness gates will be evaluated for pod readiness.', {
          conditionType: str("ConditionType refers to a condition in the pod's condition list with matching type."),
        }),
      }),
      status: loose(
        specDoc(
          'Most recently observed status of the pod. This data may not be up to date. Populated by the system. Read-only.',
        ),
        {
          phase: str(
            'The phase of a Pod is a simple, high-level summary of where the Pod is in its lifecycle: Pending, Running, Succeeded, Failed or Unknown. More info: https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle#pod-phase',
          ),
          conditions: conditionList(
            'Current service state of pod. More info: https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle#pod-conditions',
            {
              lastProbeTime: time('Last time we probed the condition.'),
            },
          ),
          message: str('A human readable message indicating details about why the pod is in this condition.'),
          reason: str(
            "A brief CamelCase message indicating details about why the pod is in this state. e.g. 'Evicted'",
          ),
          nominatedNodeName: str(
            'nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.',
          ),
          hostIP: str(
            'hostIP holds the IP address of the host to which the pod is assigned. Empty if the pod has not started yet.',
          ),
          hostIPs: looseList('hostIPs holds the IP addresses allocated to the host.', {
            ip: str('IP is the IP address assigned to the host'),
          }),
          podIP: str(
            'podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.',
          ),
          podIPs: looseList('podIPs holds the IP addresses allocated to the pod.', {
            ip: str('IP is the IP address assigned to the pod'),
          }),
          startTime: time(
            'RFC 3339 date and time at which the object was acknowledged by the Kubelet. This is before the Kubelet pulled the container image(s) for the pod.',
          ),
          qosClass: str(
            'The Quality of Service (QOS) classification assigned to the pod based on resource requirements: BestEffort, Burstable or Guaranteed.',
          ),
          containerStatuses: looseList('Statuses of containers in this pod.', containerStatusProps),
          initContainerStatuses: looseList('Statuses of init containers in this pod.', containerStatusProps),
        },
      ),
    },
  ),
  printerColumns: [
    { name: 'Status', jsonPath: '.status.phase', description: 'The aggregate status of the containers in this pod.' },
    ageColumn,
    { name: 'IP', jsonPath: '.status.podIP', priority: 1 },
    { name: 'Node', jsonPath: '.spec.nodeName', priority: 1 },
    { name: 'Nominated Node', jsonPath: '.status.nominatedNodeName', priority: 1 },
  ],
  subresources: { status: true },
  selectableFields: [
    'spec.nodeName',
    'spec.restartPolicy',
    'spec.schedulerName',
    'spec.serviceAccountName',
    'status.phase',
    'status.podIP',
    'status.nominatedNodeName',
  ],
});

// ---- persistentvolumeclaims ---------------------------------------------------------------------

export const persistentVolumeClaimDefinition = core({
  kind: 'PersistentVolumeClaim',
  shortNames: ['pvc'],
  namespaced: true,
  description: "PersistentVolumeClaim is a user's request for and claim to a persistent volume",
  schema: kindSchema("PersistentVolumeClaim is a user's request for and claim to a persistent volume", {
    spec: loose(
      'spec defines the desired characteristics of a volume requested by a pod author. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#persistentvolumeclaims',
      {
        accessModes: strings('accessModes contains the desired access modes the volume should have.'),
        storageClassName: str('storageClassName is the name of the StorageClass required by the claim.'),
        volumeAttributesClassName: str(
          'volumeAttributesClassName may be used to set the VolumeAttributesClass used by this claim.',
        ),
        volumeMode: str(
          'volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.',
        ),
        volumeName: str('volumeName is the binding reference to the PersistentVolume backing this claim.'),
        resources: loose('resources represents the minimum resources the volume should have.', {
          requests: quantityMap('Requests describes the minimum amount of compute resources required.'),
          limits: quantityMap('Limits describes the maximum amount of compute resources allowed.'),
        }),
      },
    ),
    status: loose(
      'status represents the current information/status of a persistent volume claim. Read-only. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#persistentvolumeclaims',
      {
        phase: str('phase represents the current phase of PersistentVolumeClaim: Pending, Bound or Lost.'),
        accessModes: strings('accessModes contains the actual access modes the volume backing the PVC has.'),
        capacity: quantityMap('capacity represents the actual resources of the underlying volume.'),
        conditions: conditionList('conditions is the current Condition of persistent volume claim.'),
      },
    ),
  }),
  printerColumns: [
    { name: 'Status', jsonPath: '.status.phase' },
    { name: 'Volume', jsonPath: '.spec.volumeName' },
    { name: 'Capacity', jsonPath: '.status.capacity.storage', type: 'string' },
    { name: 'Access Modes', jsonPath: '.status.accessModes', type: 'string' },
    { name: 'StorageClass', jsonPath: '.spec.storageClassName' },
    { name: 'VolumeAttributesClass', jsonPath: '.spec.volumeAttributesClassName' },
    ageColumn,
    { name: 'VolumeMode', jsonPath: '.spec.volumeMode', priority: 1 },
  ],
  subresources: { status: true },
});

// ---- configmaps, secrets, serviceaccounts -------------------------------------------------------

export const configMapDefinition = core({
  kind: 'ConfigMap',
  shortNames: ['cm'],
  namespaced: true,
  description: 'ConfigMap holds configuration data for pods to consume.',
  schema: kindSchema('ConfigMap holds configuration data for pods to consume.', {
    data: stringMap(
      "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.",
    ),
    binaryData: {
      type: 'object',
      description:
        "BinaryData contains the binary data. Each key must consist of alphanumeric characters, '-', '_' or '.'. BinaryData can contain byte sequences that are not in the UTF-8 range. The keys stored in BinaryData must not overlap with the ones in the Data field, this is enforced during validation process.",
      additionalProperties: { type: 'string', format: 'byte' },
    },
    immutable: bool(
      'Immutable, if set to true, ensures that data stored in the ConfigMap cannot be updated (only object metadata can be modified). If not set to true, the field can be modified at any time. Defaulted to nil.',
    ),
  }),
  printerColumns: [
    { name: 'Data', jsonPath: '.data', type: 'string', description: 'The keys of the data.' },
    ageColumn,
  ],
  subresources: {},
});

export const secretDefinition = core({
  kind: 'Secret',
  shortNames: [],
  namespaced: true,
  description:
    'Secret holds secret data of a certain type. The total bytes of the values in the Data field must be less than MaxSecretSize bytes.',
  schema: kindSchema(
    'Secret holds secret data of a certain type. The total bytes of the values in the Data field must be less than MaxSecretSize bytes.',
    {
      data: {
        type: 'object',
        description:
          "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4",
        additionalProperties: { type: 'string', format: 'byte' },
      },
      stringData: stringMap(
        'stringData allows specifying non-binary secret data in string form. It is provided as a write-only input field for convenience. All keys and values are merged into the data field on write, overwriting any existing values. The stringData field is never output when reading from the API.',
      ),
      type: str(
        'Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types',
        { default: 'Opaque' },
      ),
      immutable: bool(
        'Immutable, if set to true, ensures that data stored in the Secret cannot be updated (only object metadata can be modified). If not set to true, the field can be modified at any time. Defaulted to nil.',
      ),
    },
  ),
  printerColumns: [
    { name: 'Type', jsonPath: '.type' },
    { name: 'Data', jsonPath: '.data', type: 'string', description: 'The keys of the data.' },
    ageColumn,
  ],
  subresources: {},
  selectableFields: ['type'],
});

export const serviceAccountDefinition = core({
  kind: 'ServiceAccount',
  shortNames: ['sa'],
  namespaced: true,
  description:
    'ServiceAccount binds together: * a name, understood by users, and perhaps by peripheral systems, for an identity * a principal that can be authenticated and authorized * a set of secrets',
  schema: kindSchema(
    'ServiceAccount binds together: * a name, understood by users, and perhaps by peripheral systems, for an identity * a principal that can be authenticated and authorized * a set of secrets',
    {
      secrets: looseList(
        'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.',
        {
          name: str('Name of the referent.'),
        },
      ),
      imagePullSecrets: looseList(
        'ImagePullSecrets is a list of references to secrets in the same namespace to use for pulling any images in pods that reference this ServiceAccount.',
        {
          name: str('Name of the referent.'),
        },
      ),
      automountServiceAccountToken: bool(
        'AutomountServiceAccountToken indicates whether pods running as this service account should have an API token automatically mounted.',
      ),
    },
  ),
  printerColumns: [{ name: 'Secrets', jsonPath: '.secrets[*].name', type: 'string' }, ageColumn],
  subresources: {},
});

// ---- services ---------------------------------------------------------------------------------

export const serviceDefinition = core({
  kind: 'Service',
  shortNames: ['svc'],
  categories: ['all'],
  namespaced: true,
  description:
    'Service is a named abstraction of software service (for example, mysql) consisting of local port (for example 3306) that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy.',
  schema: kindSchema(
    'Service is a named abstraction of software service (for example, mysql) consisting of local port (for example 3306) that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy.',
    {
      spec: loose(specDoc('Spec defines the behavior of a service.'), {
        type: str(
          'type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types',
          { enum: ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] },
        ),
        clusterIP: str(
          'clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName. Valid values are "None", empty string (""), or a valid IP address. Setting this to "None" makes a "headless service" (no virtual IP).',
        ),
        clusterIPs: strings(
          'ClusterIPs is a list of IP addresses assigned to this service, and are usually assigned randomly.',
        ),
        externalIPs: strings(
          'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.',
        ),
        externalName: str(
          'externalName is the external reference that discovery mechanisms will return as an alias for this service (e.g. a DNS CNAME record).',
        ),
        selector: stringMap(
          'Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify.',
        ),
        ports: looseMapList(
          'The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies',
          ['port', 'protocol'],
          {
            name: str('The name of this port within the service. This must be a DNS_LABEL.'),
            protocol: str('The IP protocol for this port. Supports "TCP", "UDP", and "SCTP". Default is TCP.'),
            port: int32('The port that will be exposed by this service.'),
            targetPort: {
              description: 'Number or name of the port to access on the pods targeted by the service.',
              anyOf: [{ type: 'integer' }, { type: 'string' }],
              'x-kubernetes-int-or-string': true,
            },
            nodePort: int32(
              'The port on each node on which this service is exposed when type is NodePort or LoadBalancer.',
            ),
            appProtocol: str('The application protocol for this port.'),
          },
        ),
        sessionAffinity: str('Supports "ClientIP" and "None". Used to maintain session affinity.'),
        publishNotReadyAddresses: bool(
          'publishNotReadyAddresses indicates that any agent which deals with endpoints for this Service should disregard any indications of ready/not-ready.',
        ),
        ipFamilies: strings('IPFamilies is a list of IP families (e.g. IPv4, IPv6) assigned to this service.'),
        ipFamilyPolicy: str('IPFamilyPolicy represents the dual-stack-ness requested or required by this Service.'),
        internalTrafficPolicy: str(
          'InternalTrafficPolicy describes how nodes distribute service traffic they receive on the ClusterIP.',
        ),
        externalTrafficPolicy: str(
          'externalTrafficPolicy describes how nodes distribute service traffic they receive on one of the Service\'s "externally-facing" addresses.',
        ),
      }),
      status: loose(specDoc('Most recently observed status of the service. Populated by the system. Read-only.'), {
        loadBalancer: loose('LoadBalancer contains the current status of the load-balancer, if one is present.', {
          ingress: looseList('Ingress is a list containing ingress points for the load-balancer.', {
            ip: str('IP is set for load-balancer ingress points that are IP based.'),
            hostname: str('Hostname is set for load-balancer ingress points that are DNS based.'),
          }),
        }),
        conditions: conditionList('Current service state'),
      }),
    },
  ),
  printerColumns: [
    { name: 'Type', jsonPath: '.spec.type' },
    { name: 'Cluster-IP', jsonPath: '.spec.clusterIP' },
    { name: 'External-IP', jsonPath: '.spec.externalIPs', type: 'string' },
    {
      name: 'Port(s)',
      jsonPath: '.spec.ports[*].port',
      type: 'string',
      description: 'The list of ports that are exposed by this service.',
    },
    ageColumn,
    { name: 'Selector', jsonPath: '.spec.selector', type: 'string', priority: 1 },
  ],
  subresources: { status: true },
  selectableFields: ['spec.clusterIP', 'spec.type'],
});

// ---- events -----------------------------------------------------------------------------------

const eventDescription =
  'Event is a report of an event somewhere in the cluster.  Events have a limited retention time and triggers and messages may evolve with time.  Event consumers should not rely on the timing of an event with a given Reason reflecting a consistent underlying trigger, or the continued existence of events with that Reason.  Events should be treated as informative, best-effort, supplemental data.';

const objectReference = (description: string) =>
  loose(description, {
    kind: str('Kind of the referent.'),
    namespace: str('Namespace of the referent.'),
    name: str('Name of the referent.'),
    uid: str('UID of the referent.'),
    apiVersion: str('API version of the referent.'),
    resourceVersion: str('Specific resourceVersion to which this reference is made, if any.'),
    fieldPath: str(
      'If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].',
    ),
  });

export const eventDefinition = core({
  kind: 'Event',
  shortNames: ['ev'],
  namespaced: true,
  description: eventDescription,
  schema: kindSchema(eventDescription, {
    involvedObject: objectReference('The object that this event is about.'),
    reason: str(
      "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
    ),
    message: str('A human-readable description of the status of this operation.'),
    source: loose('The component reporting this event. Should be a short machine understandable string.', {
      component: str('Component from which the event is generated.'),
      host: str('Node name on which the event is generated.'),
    }),
    firstTimestamp: time('The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)'),
    lastTimestamp: time('The time at which the most recent occurrence of this event was recorded.'),
    count: int32('The number of times this event has occurred.'),
    type: str('Type of this event (Normal, Warning), new types could be added in the future'),
    eventTime: time('Time when this Event was first observed.'),
    series: loose("Data about the Event series this event represents or nil if it's a singleton Event.", {
      count: int32('Number of occurrences in this series up to the last heartbeat time'),
      lastObservedTime: time('Time of the last occurrence observed'),
    }),
    action: str('What action was taken/failed regarding to the Regarding object.'),
    related: objectReference('Optional secondary object for more complex actions.'),
    reportingComponent: str('Name of the controller that emitted this Event, e.g. `kubernetes.io/kubelet`.'),
    reportingInstance: str('ID of the controller instance, e.g. `kubelet-xyzf`.'),
  }),
  printerColumns: [
    { name: 'Last Seen', jsonPath: '.lastTimestamp' },
    { name: 'Type', jsonPath: '.type' },
    { name: 'Reason', jsonPath: '.reason' },
    { name: 'Object', jsonPath: '.involvedObject.name', description: 'The object that this event is about.' },
    { name: 'Subobject', jsonPath: '.involvedObject.fieldPath', priority: 1 },
    { name: 'Source', jsonPath: '.source.component', priority: 1 },
    { name: 'Message', jsonPath: '.message' },
    { name: 'First Seen', jsonPath: '.firstTimestamp', priority: 1 },
    { name: 'Count', jsonPath: '.count', priority: 1 },
  ],
  subresources: {},
  // kube's list (pkg/registry/core/event/strategy.go). `source` is Source.Component there; the
  // generic machinery reads `.source`, see the report in index.ts.
  selectableFields: [
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'reportingComponent',
    'source',
    'type',
  ],
});

// ---- nodes ------------------------------------------------------------------------------------

export const nodeDefinition = core({
  kind: 'Node',
  shortNames: ['no'],
  namespaced: false,
  description:
    'Node is a worker node in Kubernetes. Each node will have a unique identifier in the cache (i.e. in etcd).',
  schema: kindSchema(
    'Node is a worker node in Kubernetes. Each node will have a unique identifier in the cache (i.e. in etcd).',
    {
      spec: loose(specDoc('Spec defines the behavior of a node.'), {
        podCIDR: str('PodCIDR represents the pod IP range assigned to the node.'),
        podCIDRs: strings('podCIDRs represents the IP ranges assigned to the node for usage by Pods on that node.'),
        providerID: str('ID of the node assigned by the cloud provider.'),
        unschedulable: bool('Unschedulable controls node schedulability of new pods. By default, node is schedulable.'),
        taints: looseList("If specified, the node's taints.", {
          key: str('Required. The taint key to be applied to a node.'),
          value: str('The taint value corresponding to the taint key.'),
          effect: str(
            'Required. The effect of the taint on pods that do not tolerate the taint. Valid effects are NoSchedule, PreferNoSchedule and NoExecute.',
          ),
          timeAdded: time('TimeAdded represents the time at which the taint was added.'),
        }),
      }),
      status: loose(specDoc('Most recently observed status of the node. Populated by the system. Read-only.'), {
        conditions: conditionList(
          'Conditions is an array of current observed node conditions. More info: https://kubernetes.io/docs/reference/node/node-status/#condition',
          {
            lastHeartbeatTime: time('Last time we got an update on a given condition.'),
          },
        ),
        addresses: looseList('List of addresses reachable to the node.', {
          type: str('Node address type, one of Hostname, ExternalIP or InternalIP.'),
          address: str('The node address.'),
        }),
        capacity: quantityMap('Capacity represents the total resources of a node.'),
        allocatable: quantityMap(
          'Allocatable represents the resources of a node that are available for scheduling. Defaults to Capacity.',
        ),
        nodeInfo: loose(
          'Set of ids/uuids to uniquely identify the node. More info: https://kubernetes.io/docs/reference/node/node-status/#info',
          {
            kubeletVersion: str('Kubelet Version reported by the node.'),
            osImage: str('OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).'),
            kernelVersion: str("Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
            containerRuntimeVersion: str(
              'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).',
            ),
          },
        ),
        phase: str('NodePhase is the recently observed lifecycle phase of the node. Deprecated.'),
      }),
    },
  ),
  printerColumns: [
    {
      name: 'Status',
      jsonPath: '.status.conditions[?(@.type=="Ready")].status',
      type: 'string',
      description: 'The status of the node',
    },
    ageColumn,
    { name: 'Version', jsonPath: '.status.nodeInfo.kubeletVersion' },
    {
      name: 'Internal-IP',
      jsonPath: '.status.addresses[?(@.type=="InternalIP")].address',
      type: 'string',
      priority: 1,
    },
    { name: 'OS-Image', jsonPath: '.status.nodeInfo.osImage', priority: 1 },
    { name: 'Kernel-Version', jsonPath: '.status.nodeInfo.kernelVersion', priority: 1 },
    { name: 'Container-Runtime', jsonPath: '.status.nodeInfo.containerRuntimeVersion', priority: 1 },
  ],
  subresources: { status: true },
});
