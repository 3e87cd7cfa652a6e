// Differential checks against the real kube-apiserver: the same kubectl verbs on a UnitSet served
// by upm-engine (through the aggregator) and on a CustomResourceDefinition with UnitSet's schema
// (group crd.upm.io) served by kube-apiserver itself, on the same etcd. What kube defines
// precisely must come out the same: managedFields (managers, operations, subresources, field
// sets), generation, the Status bodies of errors, and the warnings kubectl prints.

import { unitSetDefinition } from '../../src/api/unitset.js';
import { ApiError, KubeClient, loadKubeConfig } from '../../src/controllers/runtime/client.js';
import { crdOf } from '../cluster/crd.js';
import { startRealCluster, type RealCluster } from '../cluster/cluster.js';

type Obj = Record<string, any>;

const crdGroup = 'crd.upm.io';
const targets = [
  { name: 'upm.io', resource: 'unitsets.upm.io', apiVersion: 'upm.io/v1alpha1' },
  { name: 'crd', resource: `unitsets.${crdGroup}`, apiVersion: `${crdGroup}/v1alpha1` },
] as const;
type Target = (typeof targets)[number];

const manifest = (t: Target, extra: Obj = {}) =>
  JSON.stringify({
    apiVersion: t.apiVersion,
    kind: 'UnitSet',
    metadata: { name: 'diff', namespace: 'default', ...extra['metadata'] },
    spec: { type: 'mysql', version: '8.0.36', units: 1, ...extra['spec'] },
  });

/**
 * Two behaviours of our UnitSet strategy that a CRD cannot have (README "Differences from a CRD"):
 * spec.template is defaulted from type, edition and version, and status.selector is published for
 * the scale subresource. They are taken out before comparing; everything else must be equal. The
 * `.` of f:status follows from the second: our status exists before the first status write.
 */
function withoutStrategyFields(o: Obj): Obj {
  const copy = structuredClone(o);
  delete copy['spec']?.['template'];
  delete copy['status']?.['selector'];
  if (copy['status'] && Object.keys(copy['status']).length === 0) delete copy['status'];
  for (const m of copy['metadata'].managedFields ?? []) {
    delete m['fieldsV1']?.['f:spec']?.['f:template'];
    delete m['fieldsV1']?.['f:status']?.['.'];
  }
  return copy;
}

/** What kube defines precisely about an object after a write, with the group made neutral. */
function observable(object: Obj): Obj {
  const o = withoutStrategyFields(object);
  return {
    generation: o['metadata'].generation,
    labels: o['metadata'].labels,
    managedFields: (o['metadata'].managedFields ?? []).map((m: Obj) => ({
      manager: m['manager'],
      operation: m['operation'],
      apiVersion: String(m['apiVersion']).replace(crdGroup, 'upm.io'),
      subresource: m['subresource'],
      fieldsType: m['fieldsType'],
      fieldsV1: m['fieldsV1'],
      hasTime: typeof m['time'] === 'string',
    })),
    spec: o['spec'],
    status: o['status'],
  };
}

const warnings = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('Warning:'))
    .map((l) => l.replaceAll(crdGroup, 'upm.io'));

/** A Status body with what differs by nature (the group, the resource version) made neutral. */
function statusBody(err: unknown): Obj {
  if (!(err instanceof ApiError)) throw err;
  return sortKeys(JSON.parse(JSON.stringify(err.body).replaceAll(crdGroup, 'upm.io')));
}

function sortKeys(v: unknown): any {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Obj)[k])]),
    );
  return v;
}

describe('differential: upm.io UnitSet vs a CRD with its schema, on the same kube-apiserver', () => {
  let cluster: RealCluster | undefined;
  let client: KubeClient;

  beforeAll(async () => {
    cluster = await startRealCluster();
    client = new KubeClient(loadKubeConfig(cluster.kubeconfig), 'differential-test');
    const crd = crdOf(unitSetDefinition, crdGroup);
    await ok(['apply', '--server-side', '-f', '-'], JSON.stringify(crd));
    await ok(['wait', '--for=condition=Established', `crd/${crd['metadata'].name}`, '--timeout=60s']);
  }, 240_000);

  afterAll(async () => {
    client?.close();
    await cluster?.stop();
  }, 60_000);

  async function kubectl(args: string[], input?: string) {
    return cluster!.kubectl('1.33', args, input === undefined ? {} : { input });
  }
  async function ok(args: string[], input?: string): Promise<string> {
    const r = await kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.code}\n${r.stderr}`);
    return r.stdout;
  }
  const get = async (t: Target): Promise<Obj> =>
    JSON.parse(await ok(['get', t.resource, 'diff', '-o', 'json', '--show-managed-fields']));

  /**
   * kube records a CRD's /scale write with no time (kubernetes/kubernetes#131892), which also moves
   * the entry first; built-in kinds and we record the time. Compared with that quirk undone.
   */
  function withoutCrdScaleQuirk(o: Obj): Obj {
    const entries = (o['managedFields'] as Obj[]).map((m) =>
      m['subresource'] === 'scale' && !m['hasTime'] ? { ...m, hasTime: true } : m,
    );
    const key = (m: Obj) => `${m['operation']}/${m['manager']}/${m['subresource'] ?? ''}`;
    return { ...o, managedFields: entries.sort((a, b) => key(a).localeCompare(key(b))) };
  }

  /** Runs one step on both targets and returns what each shows afterwards. */
  async function step(run: (t: Target) => Promise<{ stderr: string }>): Promise<Obj[]> {
    const out: Obj[] = [];
    for (const t of targets) {
      const r = await run(t);
      out.push({ warnings: warnings(r.stderr), object: withoutCrdScaleQuirk(observable(await get(t))) });
    }
    return out;
  }

  const steps: [string, (t: Target) => Promise<{ stderr: string; code: number }>][] = [
    ['create', (t) => kubectl(['create', '-f', '-'], manifest(t))],
    ['label', (t) => kubectl(['label', t.resource, 'diff', 'tier=db'])],
    ['annotate', (t) => kubectl(['annotate', t.resource, 'diff', 'note=first'])],
    [
      'patch --field-manager',
      (t) =>
        kubectl(['patch', t.resource, 'diff', '--type=merge', '-p', '{"spec":{"units":2}}', '--field-manager=patcher']),
    ],
    ['scale', (t) => kubectl(['scale', `${t.resource}/diff`, '--replicas=3'])],
    [
      'replace',
      (t) =>
        kubectl(
          ['replace', '-f', '-'],
          manifest(t, { metadata: { labels: { tier: 'db' } }, spec: { units: 3, edition: 'community' } }),
        ),
    ],
    [
      'apply (client-side, no last-applied annotation yet)',
      (t) => kubectl(['apply', '-f', '-'], manifest(t, { spec: { units: 3 } })),
    ],
    [
      'apply --server-side (conflicts)',
      (t) => kubectl(['apply', '--server-side', '-f', '-'], manifest(t, { spec: { units: 4 } })),
    ],
    [
      'apply --server-side --force-conflicts',
      (t) => kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], manifest(t, { spec: { units: 4 } })),
    ],
    [
      'status patch',
      (t) =>
        kubectl([
          'patch',
          t.resource,
          'diff',
          '--subresource=status',
          '--type=merge',
          '-p',
          '{"status":{"units":4,"readyUnits":2}}',
        ]),
    ],
  ];

  it('the same verbs give the same managedFields, generation and warnings', async () => {
    const differences: string[] = [];
    for (const [name, run] of steps) {
      const results: { code: number; stderr: string }[] = [];
      const [a, b] = await step(async (t) => {
        const r = await run(t);
        results.push(r);
        return r;
      });
      if (results[0].code !== results[1].code)
        differences.push(
          `${name}: exit ${results[0].code} vs ${results[1].code}\n${results[0].stderr}\n${results[1].stderr}`,
        );
      if (JSON.stringify(a) !== JSON.stringify(b))
        differences.push(`${name}:\n  upm.io: ${JSON.stringify(a)}\n  crd:    ${JSON.stringify(b)}`);
    }
    expect(differences).toEqual([]);
  });

  it('errors carry the same Status bodies', async () => {
    const cases: [string, (t: Target) => Promise<unknown>][] = [
      [
        'get a missing object',
        (t) => client.request('GET', `/apis/${t.apiVersion}/namespaces/default/unitsets/missing`),
      ],
      [
        'create with an invalid field',
        (t) =>
          client.request('POST', `/apis/${t.apiVersion}/namespaces/default/unitsets`, {
            body: JSON.parse(manifest(t, { metadata: { name: 'bad' }, spec: { units: -1 } })),
          }),
      ],
      [
        'create an existing object',
        (t) =>
          client.request('POST', `/apis/${t.apiVersion}/namespaces/default/unitsets`, {
            body: JSON.parse(manifest(t)),
          }),
      ],
      [
        'update with a stale resourceVersion',
        (t) =>
          client.request('PUT', `/apis/${t.apiVersion}/namespaces/default/unitsets/diff`, {
            body: JSON.parse(manifest(t, { metadata: { resourceVersion: '1' } })),
          }),
      ],
    ];
    // kube adds this cause for a CRD's scale subresource on top of the schema's own check of the same field.
    const crdScaleCause = {
      field: '.spec.units',
      message: 'Invalid value: -1: should be a non-negative integer',
      reason: 'FieldValueInvalid',
    };
    const differences: string[] = [];
    for (const [name, call] of cases) {
      const bodies: Obj[] = [];
      for (const t of targets) bodies.push(await call(t).then(() => ({ succeeded: true }), statusBody));
      const crd = bodies[1]!;
      const causes = crd['details']?.['causes'] as Obj[] | undefined;
      if (causes?.some((c) => JSON.stringify(c) === JSON.stringify(crdScaleCause))) {
        crd['details']['causes'] = causes.filter((c) => JSON.stringify(c) !== JSON.stringify(crdScaleCause));
        crd['message'] = String(crd['message']).replace(
          /^(.* is invalid: )\[(.*), \.spec\.units: Invalid value: -1: should be a non-negative integer\]$/,
          '$1$2',
        );
      }
      if (JSON.stringify(bodies[0]) !== JSON.stringify(bodies[1]))
        differences.push(`${name}:\n  upm.io: ${JSON.stringify(bodies[0])}\n  crd:    ${JSON.stringify(bodies[1])}`);
    }
    expect(differences).toEqual([]);
  });
});
