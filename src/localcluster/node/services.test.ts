import { desiredSlice } from './endpointslices.js';
import { backendsOf } from './service-proxy.js';

const pod = (name: string, ip: string, ready: boolean, extra: Record<string, any> = {}) => ({
  metadata: { name, namespace: 'shop', uid: `uid-${name}`, labels: { app: 'db' }, ...(extra['metadata'] ?? {}) },
  spec: { nodeName: 'vm', containers: [{ name: 'mariadb', ports: [{ name: 'mysql', containerPort: 3306 }] }] },
  status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});
const service = {
  metadata: { name: 'db', namespace: 'shop', uid: 'svc-uid-1' },
  spec: {
    selector: { app: 'db' },
    clusterIP: '127.96.0.5',
    ports: [{ name: 'mysql', port: 3306, targetPort: 'mysql' }],
  },
};

describe('EndpointSlices and the Service proxy', () => {
  it('a slice holds every selected Pod with an address, with kube conditions and the named port resolved', () => {
    const slice = desiredSlice(service, [
      pod('db-0', '127.64.0.2', true),
      pod('db-1', '127.64.0.3', false),
      pod('db-2', '127.64.0.4', true, { metadata: { deletionTimestamp: '2026-01-01T00:00:00Z' } }),
      { ...pod('other', '127.64.0.9', true), metadata: { name: 'other', namespace: 'shop', labels: { app: 'web' } } },
      { ...pod('done', '127.64.0.8', false), status: { phase: 'Succeeded', podIP: '127.64.0.8' } },
    ]);
    expect(slice['metadata']).toMatchObject({
      name: 'db-svc-u',
      labels: {
        'kubernetes.io/service-name': 'db',
        'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
      },
    });
    expect(slice['ports']).toEqual([{ name: 'mysql', protocol: 'TCP', port: 3306 }]);
    expect(slice['endpoints'].map((e: any) => [e.addresses[0], e.conditions])).toEqual([
      ['127.64.0.2', { ready: true, serving: true, terminating: false }],
      ['127.64.0.3', { ready: false, serving: false, terminating: false }],
      ['127.64.0.4', { ready: false, serving: true, terminating: true }],
    ]);
  });

  it('the proxy uses ready endpoints on this machine, else serving terminating ones', () => {
    const slice = (endpoints: any[]) => ({ ports: [{ name: 'mysql', port: 3306 }], endpoints });
    const e = (ip: string, conditions: any) => ({ addresses: [ip], conditions });
    expect(
      backendsOf(
        [
          slice([
            e('127.64.0.2', { ready: true }),
            e('127.64.0.3', { ready: false }),
            e('10.244.1.2', { ready: true }),
          ]),
        ],
        'mysql',
      ),
    ).toEqual([{ ip: '127.64.0.2', port: 3306 }]);
    expect(backendsOf([slice([e('127.64.0.4', { ready: false, serving: true, terminating: true })])], 'mysql')).toEqual(
      [{ ip: '127.64.0.4', port: 3306 }],
    );
    expect(backendsOf([slice([e('127.64.0.3', { ready: false, serving: false })])], 'mysql')).toEqual([]);
  });
});
