import { clientService, headlessService, podDisruptionBudget, unitService } from './services.js';
import { unitsFor } from './units.js';
import { testTemplate, testUnitSet } from './testing/fixtures.js';

const owner = {
  apiVersion: 'upm.io/v1alpha1',
  kind: 'UnitSet',
  name: 'orders',
  uid: 'unitset-uid',
  controller: true,
  blockOwnerDeletion: true,
};

describe('Services of a UnitSet', () => {
  it('the headless Service publishes every Unit, ready or not, with the main and exporter ports', () => {
    expect(headlessService(testUnitSet(), testTemplate())).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'orders-headless',
        namespace: 'shop',
        labels: { 'upm.io/unitset': 'orders' },
        ownerReferences: [owner],
      },
      spec: {
        clusterIP: 'None',
        publishNotReadyAddresses: true,
        selector: { 'upm.io/unitset': 'orders' },
        ports: [
          { name: 'mysql', port: 3306, targetPort: 'mysql', protocol: 'TCP' },
          { name: 'metrics', port: 9104, targetPort: 9104, protocol: 'TCP' },
        ],
      },
    });
  });

  it('the client Service exists only when services.external asks for it, and selects Units in service', () => {
    expect(clientService(testUnitSet(), testTemplate())).toBeUndefined();
    expect(clientService(testUnitSet({ services: { external: { type: 'None' } } }), testTemplate())).toBeUndefined();
    const svc = clientService(
      testUnitSet({ services: { external: { type: 'LoadBalancer', annotations: { 'lb/internal': 'true' } } } }),
      testTemplate(),
    );
    expect(svc?.metadata?.name).toBe('orders');
    expect(svc?.metadata?.annotations).toEqual({ 'lb/internal': 'true' });
    expect(svc?.spec).toEqual({
      type: 'LoadBalancer',
      selector: { 'upm.io/unitset': 'orders', 'upm.io/in-service': 'true' },
      ports: [{ name: 'mysql', port: 3306, targetPort: 'mysql', protocol: 'TCP' }],
    });
  });

  it('the PodDisruptionBudget allows maxUnavailable Units down, a count or a percentage', () => {
    expect(podDisruptionBudget(testUnitSet()).spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: { 'upm.io/unitset': 'orders' } },
    });
    const pct = testUnitSet({ units: 8, updateStrategy: { rollingUpdate: { maxUnavailable: '25%' } } });
    expect(podDisruptionBudget(pct).spec?.maxUnavailable).toBe(2);
    const small = testUnitSet({ units: 3, updateStrategy: { rollingUpdate: { maxUnavailable: '10%' } } });
    expect(podDisruptionBudget(small).spec?.maxUnavailable).toBe(1);
  });
});

describe('unitService', () => {
  const unit = () => {
    const u = unitsFor(testUnitSet(), testTemplate()).units[1];
    u.metadata.uid = 'unit-uid';
    return u;
  };

  it('exists only for perUnit types other than None, owned by the Unit and selecting it alone', () => {
    expect(unitService(unit(), undefined, testTemplate())).toBeUndefined();
    expect(unitService(unit(), { type: 'None' }, testTemplate())).toBeUndefined();
    const svc = unitService(unit(), { type: 'NodePort' }, testTemplate())!;
    expect(svc.metadata?.name).toBe('orders-1');
    expect(svc.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: 'Unit',
      name: 'orders-1',
      uid: 'unit-uid',
      controller: true,
    });
    expect(svc.spec?.selector).toEqual({ 'upm.io/unit': 'orders-1', 'upm.io/in-service': 'true' });
    expect(svc.spec?.publishNotReadyAddresses).toBe(true);
  });

  it('keeps the node ports of the Service it replaces', () => {
    const existing = unitService(unit(), { type: 'NodePort' }, testTemplate())!;
    existing.spec!.ports![0].nodePort = 31306;
    const next = unitService(unit(), { type: 'NodePort', annotations: { a: 'b' } }, testTemplate(), existing)!;
    expect(next.spec?.ports).toEqual([
      { name: 'mysql', port: 3306, targetPort: 'mysql', protocol: 'TCP', nodePort: 31306 },
    ]);
    expect(
      unitService(unit(), { type: 'ClusterIP' }, testTemplate(), existing)!.spec?.ports?.[0].nodePort,
    ).toBeUndefined();
  });
});
