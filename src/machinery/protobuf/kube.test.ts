import { decodeKubeProtobuf, encodeKubeProtobuf, ProtobufError } from './kube.js';

/** Request bodies kubectl 1.33 sent for `kubectl create …` (captured from the wire). */
const kubectl133 = {
  configmap: 'azhzAAoPCgJ2MRIJQ29uZmlnTWFwEioKFAoEZ2FtZRIAGgAiACoAMgA4AEIAEgYKAWESAWISCgoFbGl2ZXMSATMaACIA',
  secret: 'azhzAAoMCgJ2MRIGU2VjcmV0EisKEgoCczESABoAIgAqADIAOABCABITCghwYXNzd29yZBIHaHVudGVyMhoAGgAiAA==',
  namespace: 'azhzAAoPCgJ2MRIJTmFtZXNwYWNlEh4KFgoGdGVhbS1hEgAaACIAKgAyADgAQgASABoCCgAaACIA',
  rolebinding:
    'azhzAAorChxyYmFjLmF1dGhvcml6YXRpb24uazhzLmlvL3YxEgtSb2xlQmluZGluZxJ2ChgKAnJiEgAaBnRlYW0tYSIAKgAyADgAQgASKgoEVXNlchIZcmJhYy5hdXRob3JpemF0aW9uLms4cy5pbxoFYWxpY2UiABouChlyYmFjLmF1dGhvcml6YXRpb24uazhzLmlvEgtDbHVzdGVyUm9sZRoEdmlldxoAIgA=',
  service:
    'azhzAAoNCgJ2MRIHU2VydmljZRJsCiEKBHN2YzESABoAIgAqADIAOABCAFoLCgNhcHASBHN2YzESQwobCgc4MC04MDgwEgNUQ1AYUCIHCAAQkD8aACgAEgsKA2FwcBIEc3ZjMRoAIglDbHVzdGVySVA6AEIAUgBaAGAAaAAaAgoAGgAiAA==',
  selfSubjectAccessReview:
    'azhzAAoyChdhdXRob3JpemF0aW9uLms4cy5pby92MRIXU2VsZlN1YmplY3RBY2Nlc3NSZXZpZXcSOQoQCgASABoAIgAqADIAOABCABIbChkKAXgSA2dldBoAIgAqBHBvZHMyADoDbG9nGggIABIAGgAgABoAIgA=',
  selfSubjectReview:
    'azhzAAotChhhdXRoZW50aWNhdGlvbi5rOHMuaW8vdjESEVNlbGZTdWJqZWN0UmV2aWV3EhoKEAoAEgAaACIAKgAyADgAQgASBgoECgASABoAIgA=',
  tokenRequest:
    'azhzAAooChhhdXRoZW50aWNhdGlvbi5rOHMuaW8vdjESDFRva2VuUmVxdWVzdBIjChAKABIAGgAiACoAMgA4AEIAEgkKBGF1ZDEgsAkaBAoAEgAaACIA',
};

const decode = (b64: string) => decodeKubeProtobuf(Buffer.from(b64, 'base64')).object;

describe('decodeKubeProtobuf', () => {
  it('reads what kubectl sends as the JSON kubectl would have sent', () => {
    expect(decode(kubectl133.configmap)).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'game', creationTimestamp: null },
      data: { a: 'b', lives: '3' },
    });
    expect(decode(kubectl133.secret)).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's1', creationTimestamp: null },
      data: { password: Buffer.from('hunter2').toString('base64') },
    });
    expect(decode(kubectl133.namespace)).toEqual({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'team-a', creationTimestamp: null },
      spec: {},
      status: {},
    });
    expect(decode(kubectl133.rolebinding)).toEqual({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'rb', namespace: 'team-a', creationTimestamp: null },
      subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' }],
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
    });
    expect(decode(kubectl133.service)).toMatchObject({
      kind: 'Service',
      metadata: { name: 'svc1', labels: { app: 'svc1' } },
      spec: {
        ports: [{ name: '80-8080', protocol: 'TCP', port: 80, targetPort: 8080 }],
        selector: { app: 'svc1' },
        type: 'ClusterIP',
      },
    });
  });

  it('reads the reviews and the TokenRequest of kubectl auth can-i, auth whoami and create token', () => {
    expect(decode(kubectl133.selfSubjectAccessReview)).toEqual({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      metadata: { creationTimestamp: null },
      // `can-i get pods/log` names the pod "log" (a subresource needs --subresource).
      spec: { resourceAttributes: { namespace: 'x', verb: 'get', resource: 'pods', name: 'log' } },
      status: { allowed: false },
    });
    expect(decode(kubectl133.selfSubjectReview)).toEqual({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'SelfSubjectReview',
      metadata: { creationTimestamp: null },
      status: { userInfo: {} },
    });
    expect(decode(kubectl133.tokenRequest)).toEqual({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      metadata: { creationTimestamp: null },
      spec: { audiences: ['aud1'], expirationSeconds: 1200 },
      status: { token: '', expirationTimestamp: null },
    });
  });

  it('refuses bodies that are not Kubernetes protobuf or of a kind it does not know', () => {
    expect(() => decodeKubeProtobuf(Buffer.from('{"kind":"ConfigMap"}'))).toThrow(
      'provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]',
    );
    const unknownKind = encodeKubeProtobuf({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } });
    unknownKind.write('ConfigMup', unknownKind.indexOf('ConfigMap'));
    expect(() => decodeKubeProtobuf(unknownKind)).toThrow(ProtobufError);
    expect(() => decodeKubeProtobuf(Buffer.concat([Buffer.from('k8s\0'), Buffer.from([0x0a, 0x20, 0x01])]))).toThrow(
      ProtobufError,
    );
  });
});

describe('encodeKubeProtobuf', () => {
  it('round-trips a Pod through inline structs, times, quantities, int-or-strings and maps', () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'web',
        namespace: 'default',
        uid: '6a1c1c4e-4f0a-4c39-9c36-5e8d2b0d6f11',
        resourceVersion: '42',
        generation: 1,
        creationTimestamp: '2026-01-02T03:04:05Z',
        labels: { app: 'web' },
        managedFields: [
          {
            manager: 'kubectl',
            operation: 'Apply',
            apiVersion: 'v1',
            time: '2026-01-02T03:04:05Z',
            fieldsType: 'FieldsV1',
            fieldsV1: { 'f:metadata': { 'f:labels': { 'f:app': {} } } },
          },
        ],
      },
      spec: {
        containers: [
          {
            name: 'nginx',
            image: 'nginx:1.25',
            ports: [{ containerPort: 80, protocol: 'TCP' }],
            resources: { limits: { cpu: '500m', memory: '128Mi' } },
            readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 5 },
            env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'cm', key: 'a', optional: true } } }],
          },
        ],
        volumes: [{ name: 'cfg', configMap: { name: 'cm', defaultMode: 420 } }],
        terminationGracePeriodSeconds: 30,
      },
      status: {
        phase: 'Running',
        conditions: [
          { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: '2026-01-02T03:04:06Z' },
        ],
      },
    };
    const decoded = decodeKubeProtobuf(encodeKubeProtobuf(pod)).object;
    expect(decoded).toEqual(pod);
  });

  it('encodes lists, negative numbers and micro times', () => {
    const list = {
      apiVersion: 'v1',
      kind: 'EventList',
      metadata: { resourceVersion: '7' },
      items: [
        {
          metadata: { name: 'e', namespace: 'default', creationTimestamp: '2026-01-02T03:04:05Z' },
          involvedObject: { kind: 'Pod', name: 'web' },
          reason: 'Started',
          count: -1,
          eventTime: '2026-01-02T03:04:05.123456Z',
          reportingComponent: 'kubelet',
          reportingInstance: 'node-1',
          source: {},
        },
      ],
    };
    expect(decodeKubeProtobuf(encodeKubeProtobuf(list)).object).toEqual(list);
  });
});
