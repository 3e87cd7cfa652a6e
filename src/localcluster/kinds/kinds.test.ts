// The built-in kinds served by the generic machinery over HTTPS: discovery, the kube behaviour
// of their strategies, field selectors, kube's table columns, and the real kubectl against it.

import { decodeKubeProtobuf, encodeKubeProtobuf } from '../../machinery/protobuf/kube.js';
import { startTestCluster, type TestCluster } from '../testing/controlplane.js';

let c: TestCluster;

beforeAll(async () => {
  c = await startTestCluster();
});
afterAll(async () => c?.close());

const tableAccept = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';

function pod(name: string, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { containers: [{ name: 'app', image: 'nginx:1.25' }] },
    ...extra,
  };
}

describe('discovery', () => {
  it('/api lists v1 and /api/v1 the core kinds with short names and subresources', async () => {
    expect((await c.call('GET', '/api')).json()).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const list = (await c.call('GET', '/api/v1')).json();
    expect(list).toMatchObject({ kind: 'APIResourceList', groupVersion: 'v1' });
    const byName = new Map<string, any>(list.resources.map((r: { name: string }) => [r.name, r]));
    for (const name of [
      'namespaces',
      'pods',
      'persistentvolumeclaims',
      'configmaps',
      'secrets',
      'services',
      'serviceaccounts',
      'events',
      'nodes',
    ]) {
      expect(byName.has(name)).toBe(true);
    }
    for (const name of [
      'namespaces/status',
      'pods/status',
      'persistentvolumeclaims/status',
      'services/status',
      'nodes/status',
    ])
      expect(byName.has(name)).toBe(true);
    expect(byName.get('pods')).toMatchObject({
      kind: 'Pod',
      namespaced: true,
      shortNames: ['po'],
      categories: ['all'],
    });
    expect(byName.get('namespaces')).toMatchObject({ kind: 'Namespace', namespaced: false, shortNames: ['ns'] });
    expect(byName.get('namespaces').verbs).not.toContain('deletecollection');
    expect(byName.get('nodes')).toMatchObject({ namespaced: false, shortNames: ['no'] });
    expect(byName.get('events').shortNames).toEqual(['ev']);
  });

  it('/apis lists the other built-in groups', async () => {
    const groups = (await c.call('GET', '/apis'))
      .json()
      .groups.map((g: { name: string }) => g.name)
      .sort();
    expect(groups).toEqual([
      'admissionregistration.k8s.io',
      'apiextensions.k8s.io',
      'apiregistration.k8s.io',
      'coordination.k8s.io',
      'discovery.k8s.io',
      'policy',
      'rbac.authorization.k8s.io',
      'storage.k8s.io',
    ]);
    const rbac = (await c.call('GET', '/apis/rbac.authorization.k8s.io/v1')).json();
    expect(
      rbac.resources.map((r: { name: string; namespaced: boolean }) => `${r.name}:${r.namespaced}`).sort(),
    ).toEqual(['clusterrolebindings:false', 'clusterroles:false', 'rolebindings:true', 'roles:true']);
  });

  it('aggregated discovery of /api has the core group', async () => {
    const res = await c.call('GET', '/api', {
      headers: { Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' },
    });
    const doc = res.json();
    const pods = doc.items[0].versions[0].resources.find((r: { resource: string }) => r.resource === 'pods');
    expect(pods).toMatchObject({ responseKind: { group: '', version: 'v1', kind: 'Pod' }, scope: 'Namespaced' });
  });
});

describe('namespaces', () => {
  it('bootstraps the system namespaces and the kubernetes Service', async () => {
    const names = (await c.call('GET', '/api/v1/namespaces'))
      .json()
      .items.map((n: { metadata: { name: string } }) => n.metadata.name);
    expect(names).toEqual(expect.arrayContaining(['default', 'kube-system', 'kube-public', 'kube-node-lease']));
    const svc = (await c.call('GET', '/api/v1/namespaces/default/services/kubernetes')).json();
    expect(svc.spec.clusterIP).toBe('10.96.0.1');
  });

  it('a created namespace is Active with the kubernetes finalizer', async () => {
    const res = await c.call('POST', '/api/v1/namespaces', {
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' }, status: { phase: 'Terminating' } },
    });
    expect(res.status).toBe(201);
    expect(res.json()).toMatchObject({ spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
    const got = (await c.call('GET', '/api/v1/namespaces/team-a')).json();
    expect(got.status.phase).toBe('Active');
    expect(got.metadata.namespace).toBeUndefined();
  });

  it('rejects a name that is not a DNS label', async () => {
    const res = await c.call('POST', '/api/v1/namespaces', {
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a.b' } },
    });
    expect(res.status).toBe(422);
    expect(res.json().message).toContain('metadata.name');
  });
});

describe('pods', () => {
  it('a created pod is Pending with no conditions and kube defaults', async () => {
    const res = await c.call('POST', '/api/v1/namespaces/default/pods', {
      body: pod('web', { status: { phase: 'Running' } }),
    });
    expect(res.status).toBe(201);
    const p = res.json();
    expect(p.status).toEqual({ phase: 'Pending', qosClass: 'BestEffort' });
    expect(p.spec).toMatchObject({
      restartPolicy: 'Always',
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      serviceAccountName: 'default',
      terminationGracePeriodSeconds: 30,
    });
    expect(p.spec.containers[0]).toMatchObject({
      imagePullPolicy: 'IfNotPresent',
      terminationMessagePath: '/dev/termination-log',
    });
    expect((await c.call('GET', '/api/v1/namespaces/default/pods/web')).json().status.phase).toBe('Pending');
  });

  it('pod spec is immutable except images; binding once through spec.nodeName is allowed', async () => {
    await c.call('POST', '/api/v1/namespaces/default/pods', { body: pod('imm') });
    const merge = { 'Content-Type': 'application/merge-patch+json' };
    const bad = await c.call('PATCH', '/api/v1/namespaces/default/pods/imm', {
      headers: merge,
      body: { spec: { restartPolicy: 'Never' } },
    });
    expect(bad.status).toBe(422);
    expect(bad.json().message).toContain('pod updates may not change fields other than');
    const image = await c.call('PATCH', '/api/v1/namespaces/default/pods/imm', {
      headers: merge,
      body: { spec: { containers: [{ name: 'app', image: 'nginx:1.26' }] } },
    });
    expect(image.status).toBe(200);
    expect(
      (
        await c.call('PATCH', '/api/v1/namespaces/default/pods/imm', {
          headers: merge,
          body: { spec: { nodeName: 'node-1' } },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await c.call('PATCH', '/api/v1/namespaces/default/pods/imm', {
          headers: merge,
          body: { spec: { nodeName: 'node-2' } },
        })
      ).status,
    ).toBe(422);
  });

  it('status is written through /status and selectable by status.phase and spec.nodeName', async () => {
    await c.call('POST', '/api/v1/namespaces/default/pods', { body: pod('sel') });
    const merge = { 'Content-Type': 'application/merge-patch+json' };
    await c.call('PATCH', '/api/v1/namespaces/default/pods/sel', {
      headers: merge,
      body: { spec: { nodeName: 'node-9' } },
    });
    const res = await c.call('PATCH', '/api/v1/namespaces/default/pods/sel/status', {
      headers: merge,
      body: { status: { phase: 'Running', podIP: '10.244.0.5' } },
    });
    expect(res.status).toBe(200);
    const running = (await c.call('GET', '/api/v1/pods?fieldSelector=status.phase%3DRunning'))
      .json()
      .items.map((p: any) => p.metadata.name);
    expect(running).toEqual(['sel']);
    const onNode = (await c.call('GET', '/api/v1/namespaces/default/pods?fieldSelector=spec.nodeName%3Dnode-9'))
      .json()
      .items.map((p: any) => p.metadata.name);
    expect(onNode).toEqual(['sel']);
  });

  it("the table has kube's pod columns with READY computed", async () => {
    const merge = { 'Content-Type': 'application/merge-patch+json' };
    await c.call('POST', '/api/v1/namespaces/default/pods', { body: pod('tbl') });
    await c.call('PATCH', '/api/v1/namespaces/default/pods/tbl/status', {
      headers: merge,
      body: {
        status: {
          phase: 'Running',
          podIP: '10.244.1.2',
          conditions: [{ type: 'Ready', status: 'True' }],
          containerStatuses: [
            {
              name: 'app',
              image: 'nginx:1.25',
              ready: true,
              started: true,
              restartCount: 2,
              state: { running: { startedAt: '2025-01-01T00:00:00Z' } },
            },
          ],
        },
      },
    });
    const table = (
      await c.call('GET', '/api/v1/namespaces/default/pods/tbl', { headers: { Accept: tableAccept } })
    ).json();
    expect(table.columnDefinitions.map((d: { name: string }) => d.name)).toEqual([
      'Name',
      'Ready',
      'Status',
      'Restarts',
      'Age',
      'IP',
      'Node',
      'Nominated Node',
      'Readiness Gates',
    ]);
    expect(table.rows[0].cells.slice(0, 4)).toEqual(['tbl', '1/1', 'Running', '2']);
    expect(table.rows[0].cells.slice(5)).toEqual(['10.244.1.2', '<none>', '<none>', '<none>']);
  });
});

describe('services', () => {
  const svc = (name: string, spec: Record<string, unknown> = {}) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: { selector: { app: name }, ports: [{ port: 80 }], ...spec },
  });

  it('allocates a unique ClusterIP in 10.96.0.0/16, keeps it on update, keeps None for headless', async () => {
    const a = (await c.call('POST', '/api/v1/namespaces/default/services', { body: svc('a') })).json();
    const b = (await c.call('POST', '/api/v1/namespaces/default/services', { body: svc('b') })).json();
    for (const s of [a, b]) {
      expect(s.spec.clusterIP).toMatch(/^10\.96\.\d+\.\d+$/);
      expect(s.spec.clusterIPs).toEqual([s.spec.clusterIP]);
      expect(s.spec.ports[0]).toEqual({ port: 80, protocol: 'TCP', targetPort: 80 });
      expect(s.spec).toMatchObject({ type: 'ClusterIP', sessionAffinity: 'None' });
    }
    expect(a.spec.clusterIP).not.toBe(b.spec.clusterIP);
    const put = await c.call('PUT', '/api/v1/namespaces/default/services/a', {
      body: {
        ...svc('a', { ports: [{ port: 81 }] }),
        metadata: { name: 'a', resourceVersion: a.metadata.resourceVersion },
      },
    });
    expect(put.status).toBe(200);
    expect(put.json().spec.clusterIP).toBe(a.spec.clusterIP);
    const moved = await c.call('PATCH', '/api/v1/namespaces/default/services/a', {
      headers: { 'Content-Type': 'application/merge-patch+json' },
      body: { spec: { clusterIP: '10.96.0.99', clusterIPs: null } },
    });
    expect(moved.status).toBe(422);
    // The refused change left the allocation alone: a's address is still taken, .99 is free.
    expect(
      (
        await c.call('POST', '/api/v1/namespaces/default/services', {
          body: svc('a2', { clusterIP: a.spec.clusterIP }),
        })
      ).status,
    ).toBe(422);
    expect(
      (await c.call('POST', '/api/v1/namespaces/default/services', { body: svc('a3', { clusterIP: '10.96.0.99' }) }))
        .status,
    ).toBe(201);
    const headless = (
      await c.call('POST', '/api/v1/namespaces/default/services', { body: svc('h', { clusterIP: 'None' }) })
    ).json();
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.clusterIPs).toEqual(['None']);
  });

  it('honours a requested ClusterIP once and refuses it to another Service', async () => {
    expect(
      (
        await c.call('POST', '/api/v1/namespaces/default/services', { body: svc('fixed', { clusterIP: '10.96.0.10' }) })
      ).json().spec.clusterIP,
    ).toBe('10.96.0.10');
    const taken = await c.call('POST', '/api/v1/namespaces/default/services', {
      body: svc('fixed2', { clusterIP: '10.96.0.10' }),
    });
    expect(taken.status).toBe(422);
    expect(taken.json().message).toContain('provided IP is already allocated');
    const outside = await c.call('POST', '/api/v1/namespaces/default/services', {
      body: svc('fixed3', { clusterIP: '192.168.0.1' }),
    });
    expect(outside.status).toBe(422);
  });

  it('allocates node ports for NodePort services', async () => {
    const np = (
      await c.call('POST', '/api/v1/namespaces/default/services', { body: svc('np', { type: 'NodePort' }) })
    ).json();
    expect(np.spec.ports[0].nodePort).toBeGreaterThanOrEqual(30000);
    expect(np.spec.ports[0].nodePort).toBeLessThanOrEqual(32767);
    const table = (
      await c.call('GET', '/api/v1/namespaces/default/services/np', { headers: { Accept: tableAccept } })
    ).json();
    expect(table.rows[0].cells.slice(0, 5)).toEqual([
      'np',
      'NodePort',
      np.spec.clusterIP,
      '<none>',
      `80:${np.spec.ports[0].nodePort}/TCP`,
    ]);
  });
});

describe('secrets and configmaps', () => {
  it('a secret defaults its type to Opaque and merges stringData into base64 data', async () => {
    const res = await c.call('POST', '/api/v1/namespaces/default/secrets', {
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 's1' },
        data: { a: Buffer.from('x').toString('base64') },
        stringData: { password: 'hunter2' },
      },
    });
    expect(res.status).toBe(201);
    const s = (await c.call('GET', '/api/v1/namespaces/default/secrets/s1')).json();
    expect(s.type).toBe('Opaque');
    expect(s.stringData).toBeUndefined();
    expect(s.data).toEqual({ a: 'eA==', password: Buffer.from('hunter2').toString('base64') });
    const fields = (await c.call('GET', '/api/v1/namespaces/default/secrets?fieldSelector=type%3DOpaque')).json();
    expect(fields.items.map((x: any) => x.metadata.name)).toContain('s1');
  });

  it('rejects data that is not base64, a TLS secret without its keys and a changed type', async () => {
    const bad = await c.call('POST', '/api/v1/namespaces/default/secrets', {
      body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's2' }, data: { a: 'not base64!' } },
    });
    expect(bad.status).toBe(422);
    const tls = await c.call('POST', '/api/v1/namespaces/default/secrets', {
      body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's3' }, type: 'kubernetes.io/tls', data: {} },
    });
    expect(tls.status).toBe(422);
    expect(tls.json().message).toContain('data[tls.crt]');
    const retype = await c.call('PATCH', '/api/v1/namespaces/default/secrets/s1', {
      headers: { 'Content-Type': 'application/merge-patch+json' },
      body: { type: 'Other' },
    });
    expect(retype.status).toBe(422);
  });

  it('an immutable configmap refuses data changes', async () => {
    await c.call('POST', '/api/v1/namespaces/default/configmaps', {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm1' }, data: { k: 'v' }, immutable: true },
    });
    const res = await c.call('PATCH', '/api/v1/namespaces/default/configmaps/cm1', {
      headers: { 'Content-Type': 'application/merge-patch+json' },
      body: { data: { k: 'w' } },
    });
    expect(res.status).toBe(422);
  });
});

describe('what Go clients send', () => {
  it('accepts null times (metadata.creationTimestamp, eventTime, lastProbeTime)', async () => {
    const ev = await c.call('POST', '/api/v1/namespaces/default/events', {
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: 'go.1', creationTimestamp: null },
        involvedObject: { kind: 'Pod', name: 'web', namespace: 'default' },
        reason: 'R',
        eventTime: null,
        firstTimestamp: null,
        lastTimestamp: null,
      },
    });
    expect(ev.status).toBe(201);
    const cm = await c.call('POST', '/api/v1/namespaces/default/configmaps', {
      body: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'go-cm', creationTimestamp: null },
        data: { a: 'b' },
      },
    });
    expect(cm.status).toBe(201);
  });
});

describe('protobuf bodies (application/vnd.kubernetes.protobuf)', () => {
  const protobuf = 'application/vnd.kubernetes.protobuf';

  it('decodes a create and answers in protobuf when the client asks for it first', async () => {
    const body = encodeKubeProtobuf({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'pb', creationTimestamp: null },
      data: { a: 'b' },
    });
    const created = await c.call('POST', '/api/v1/namespaces/default/configmaps?fieldManager=kubectl-create', {
      body,
      headers: { 'Content-Type': protobuf, Accept: `${protobuf},application/json` },
    });
    expect(created.status).toBe(201);
    expect(created.headers['content-type']).toBe(protobuf);
    const answer = decodeKubeProtobuf(created.raw).object;
    expect(answer).toMatchObject({
      kind: 'ConfigMap',
      metadata: { name: 'pb', namespace: 'default' },
      data: { a: 'b' },
    });
    const list = await c.call('GET', '/api/v1/namespaces/default/configmaps', { headers: { Accept: protobuf } });
    expect(list.headers['content-type']).toBe(protobuf);
    const names = (decodeKubeProtobuf(list.raw).object['items'] as { metadata: { name: string } }[]).map(
      (i) => i.metadata.name,
    );
    expect(names).toContain('pb');
    const json = await c.call('GET', '/api/v1/namespaces/default/configmaps/pb');
    expect(json.headers['content-type']).toBe('application/json');
  });

  it('answers a malformed protobuf body with 400 and lists protobuf among the accepted types', async () => {
    const bad = await c.call('POST', '/api/v1/namespaces/default/configmaps', {
      body: Buffer.from('k8s\0\x0a\x7f'),
      headers: { 'Content-Type': protobuf },
    });
    expect(bad.status).toBe(400);
    const unknown = await c.call('POST', '/api/v1/namespaces/default/configmaps', {
      body: 'x',
      headers: { 'Content-Type': 'application/cbor' },
    });
    expect(unknown.status).toBe(415);
    expect(unknown.json().message).toBe(
      'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf',
    );
  });
});

describe('events', () => {
  const event = (name: string, involved: Record<string, unknown>, reason: string) => ({
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name },
    involvedObject: { namespace: 'default', ...involved },
    reason,
    message: `${reason} happened`,
    type: 'Normal',
    source: { component: 'unitset-controller' },
    firstTimestamp: '2025-01-01T00:00:00Z',
    lastTimestamp: '2025-01-01T00:00:00Z',
    count: 1,
  });

  beforeAll(async () => {
    for (const e of [
      event('x.1', { kind: 'UnitSet', name: 'x', apiVersion: 'upm.io/v1alpha1', uid: 'u-1' }, 'Created'),
      event('x.2', { kind: 'Unit', name: 'x', apiVersion: 'upm.io/v1alpha1' }, 'Started'),
      event('y.1', { kind: 'UnitSet', name: 'y', apiVersion: 'upm.io/v1alpha1' }, 'Created'),
    ]) {
      expect((await c.call('POST', '/api/v1/namespaces/default/events', { body: e })).status).toBe(201);
    }
  });

  it('are selected by involvedObject fields, as kubectl describe does', async () => {
    const q = encodeURIComponent('involvedObject.name=x,involvedObject.kind=UnitSet');
    const items = (await c.call('GET', `/api/v1/namespaces/default/events?fieldSelector=${q}`)).json().items;
    expect(items.map((e: any) => e.metadata.name)).toEqual(['x.1']);
    const byUID = (
      await c.call('GET', `/api/v1/events?fieldSelector=${encodeURIComponent('involvedObject.uid=u-1')}`)
    ).json().items;
    expect(byUID.map((e: any) => e.metadata.name)).toEqual(['x.1']);
    const byReason = (
      await c.call(
        'GET',
        `/api/v1/namespaces/default/events?fieldSelector=${encodeURIComponent('reason=Created,type=Normal')}`,
      )
    ).json().items;
    expect(byReason.map((e: any) => e.metadata.name).sort()).toEqual(['x.1', 'y.1']);
  });

  it('refuses an undeclared field', async () => {
    const res = await c.call(
      'GET',
      `/api/v1/namespaces/default/events?fieldSelector=${encodeURIComponent('message=x')}`,
    );
    expect(res.status).toBe(400);
  });

  it('print as kube prints them: LAST SEEN TYPE REASON OBJECT MESSAGE', async () => {
    const table = (
      await c.call('GET', '/api/v1/namespaces/default/events/x.1', { headers: { Accept: tableAccept } })
    ).json();
    const shown = table.columnDefinitions
      .filter((d: { priority: number }) => d.priority === 0)
      .map((d: { name: string }) => d.name);
    expect(shown).toEqual(['Last Seen', 'Type', 'Reason', 'Object', 'Message']);
    expect(table.rows[0].cells[3]).toBe('unitset/x');
  });
});

describe('other kinds', () => {
  it('serves leases, RBAC, webhook configurations, apiservices and nodes', async () => {
    const create = async (path: string, body: Record<string, unknown>) => {
      const res = await c.call('POST', path, { body });
      expect(res.status).toBe(201);
      return res.json();
    };
    await create('/apis/coordination.k8s.io/v1/namespaces/default/leases', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'l' },
      spec: { holderIdentity: 'me', leaseDurationSeconds: 15, renewTime: '2025-01-01T00:00:00.000000Z' },
    });
    await create('/apis/rbac.authorization.k8s.io/v1/clusterroles', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'reader' },
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }],
    });
    await create('/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'rb' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'default' }],
    });
    await create('/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: 'upm' },
      webhooks: [
        {
          name: 'v.upm.io',
          clientConfig: { url: 'https://127.0.0.1:9443/validate' },
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
        },
      ],
    });
    const api = await create('/apis/apiregistration.k8s.io/v1/apiservices', {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: 'v1alpha1.upm.io' },
      spec: { group: 'upm.io', version: 'v1alpha1', groupPriorityMinimum: 1000, versionPriority: 15 },
    });
    expect(api.status).toBeUndefined();
    await create('/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n1', labels: { 'node-role.kubernetes.io/control-plane': '' } },
    });
    const rb = (
      await c.call('GET', '/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/rb', {
        headers: { Accept: tableAccept },
      })
    ).json();
    expect(rb.rows[0].cells.slice(0, 2)).toEqual(['rb', 'ClusterRole/reader']);
    const node = (await c.call('GET', '/api/v1/nodes/n1', { headers: { Accept: tableAccept } })).json();
    expect(node.rows[0].cells.slice(0, 3)).toEqual(['n1', 'Unknown', 'control-plane']);
  });
});

describe('kubectl 1.33', () => {
  it("get pods,svc,ns,events shows kube's columns", async () => {
    const res = await c.kubectl(['get', 'pods,svc,ns,events', '-n', 'default']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const lines = res.stdout.split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/),
        expect.stringMatching(/^pod\/web\s+0\/1\s+Pending\s+0\s+\S+$/),
      ]),
    );
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$/),
        expect.stringMatching(/^service\/kubernetes\s+ClusterIP\s+10\.96\.0\.1\s+<none>\s+443\/TCP\s+\S+$/),
      ]),
    );
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^NAME\s+STATUS\s+AGE$/),
        expect.stringMatching(/^namespace\/default\s+Active\s+\S+$/),
      ]),
    );
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/),
        expect.stringMatching(/\s+Normal\s+Created\s+unitset\/x\s+Created happened$/),
      ]),
    );
  });

  it('create -f, get -o wide, describe and field-selected events', async () => {
    const manifest = [
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: kc, labels: {app: kc}}',
      'spec:',
      '  containers: [{name: app, image: busybox}]',
    ].join('\n');
    expect((await c.kubectl(['create', '-f', '-'], { input: manifest })).stdout).toBe('pod/kc created\n');
    const wide = await c.kubectl(['get', 'po', 'kc', '-o', 'wide']);
    expect(wide.stdout.split('\n')[0]).toMatch(
      /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES$/,
    );
    const describe = await c.kubectl(['describe', 'pod', 'kc']);
    expect(describe.code).toBe(0);
    expect(describe.stdout).toMatch(/Status:\s+Pending/);
    expect(describe.stdout).toMatch(/QoS Class:\s+BestEffort/);
    const events = await c.kubectl([
      'get',
      'ev',
      '--field-selector',
      'involvedObject.name=x,involvedObject.kind=UnitSet',
      '-o',
      'name',
    ]);
    expect(events.stdout).toBe('event/x.1\n');
    expect((await c.kubectl(['delete', 'pod', 'kc'])).stdout).toBe('pod "kc" deleted\n');
  });

  it('patch --type=merge and label work; api-resources lists the kinds', async () => {
    expect((await c.kubectl(['label', 'pod', 'web', 'tier=fe'])).stdout).toBe('pod/web labeled\n');
    expect(
      (await c.kubectl(['patch', 'svc', 'b', '--type=merge', '-p', '{"spec":{"selector":{"app":"c"}}}'])).stdout,
    ).toBe('service/b patched\n');
    const resources = await c.kubectl(['api-resources', '--api-group=']);
    expect(resources.stdout).toMatch(/^pods\s+po\s+v1\s+true\s+Pod$/m);
  });
});

describe('service allocators across restarts', () => {
  it('are seeded from the stored Services by initCoreResources', async () => {
    const { openSqliteStore } = await import('../../storage/sqlite/store.js');
    const store = openSqliteStore(':memory:');
    const svc = (name: string, clusterIP?: string) => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name },
      spec: { ports: [{ port: 80 }], type: 'NodePort', ...(clusterIP ? { clusterIP } : {}) },
    });
    const first = await startTestCluster({ store });
    const kept = (await first.call('POST', '/api/v1/namespaces/default/services', { body: svc('kept') })).json();
    await first.close();
    const second = await startTestCluster({ store });
    try {
      const clash = await second.call('POST', '/api/v1/namespaces/default/services', {
        body: svc('other', kept.spec.clusterIP),
      });
      expect(clash.status).toBe(422);
      const port = await second.call('POST', '/api/v1/namespaces/default/services', {
        body: {
          ...svc('other2'),
          spec: { type: 'NodePort', ports: [{ port: 80, nodePort: kept.spec.ports[0].nodePort }] },
        },
      });
      expect(port.status).toBe(422);
      expect(port.json().message).toContain('provided port is already allocated');
    } finally {
      await second.close();
    }
  });
});
