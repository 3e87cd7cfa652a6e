import type { UserInfo } from '../authentication/authenticator.js';
import { StatusError } from '../../machinery/errors.js';
import type { KubeObject } from '../../machinery/object.js';
import {
  AdmissionChain,
  WebhookDeniedError,
  type AdmissionEvent,
  type NamespaceLabelSource,
  type WebhookConfigurationSource,
} from './chain.js';
import { WebhookClient, type ServiceResolver } from './client.js';
import { FakeWebhookServer, closedPort } from './testing/webhook-server.js';
import {
  encodeCABundle,
  operationOptions,
  type AdmissionAttributes,
  type AdmissionReview,
  type MutatingWebhook,
  type MutatingWebhookConfiguration,
  type ValidatingWebhook,
  type ValidatingWebhookConfiguration,
} from './types.js';
import { createCA } from '../../pki/certs.js';

const alice: UserInfo = {
  username: 'alice',
  uid: 'u-1',
  groups: ['dev', 'system:authenticated'],
  extra: { scopes: ['a', 'b'] },
};

class StaticSource implements WebhookConfigurationSource, NamespaceLabelSource {
  mutatingConfigs: MutatingWebhookConfiguration[] = [];
  validatingConfigs: ValidatingWebhookConfiguration[] = [];
  namespaces: Record<string, Record<string, string>> = { default: {}, prod: { env: 'prod' }, dev: { env: 'dev' } };
  mutating(): MutatingWebhookConfiguration[] {
    return this.mutatingConfigs;
  }
  validating(): ValidatingWebhookConfiguration[] {
    return this.validatingConfigs;
  }
  namespaceLabels(name: string): Record<string, string> | undefined {
    return this.namespaces[name];
  }
}

let server: FakeWebhookServer;
let client: WebhookClient;
let downPort: number;
let source: StaticSource;
let events: AdmissionEvent[];

const resolveService: ServiceResolver = (namespace, name, port) => {
  if (namespace === 'webhooks' && name === 'hook' && port === 443) return { host: '127.0.0.1', port: server.port };
  if (namespace === 'webhooks' && name === 'other' && port === 443) return { host: '127.0.0.1', port: server.port };
  if (namespace === 'webhooks' && name === 'down') return { host: '127.0.0.1', port: downPort };
  throw new Error(`no endpoints available for service "${name}"`);
};

beforeAll(async () => {
  server = await FakeWebhookServer.start();
  client = new WebhookClient({ resolveService });
  downPort = await closedPort();
});

afterAll(async () => {
  client.close();
  await server.close();
});

beforeEach(() => {
  server.reviews.length = 0;
  source = new StaticSource();
  events = [];
});

function chain(opts: Partial<ConstructorParameters<typeof AdmissionChain>[0]> = {}): AdmissionChain {
  return new AdmissionChain({ source, client, onEvent: (e) => events.push(e), ...opts });
}

const podRule = {
  operations: ['CREATE' as const, 'UPDATE' as const],
  apiGroups: [''],
  apiVersions: ['v1'],
  resources: ['pods'],
};
const unitSetRule = { operations: ['*' as const], apiGroups: ['upm.io'], apiVersions: ['v1'], resources: ['unitsets'] };

function hook(name: string, path: string, over: Partial<MutatingWebhook> = {}): MutatingWebhook {
  return {
    name,
    clientConfig: { service: { namespace: 'webhooks', name: 'hook', path }, caBundle: server.caBundle },
    rules: [unitSetRule],
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    ...over,
  };
}

function mutating(name: string, ...webhooks: MutatingWebhook[]): MutatingWebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name },
    webhooks,
  };
}

function validating(name: string, ...webhooks: ValidatingWebhook[]): ValidatingWebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name },
    webhooks,
  };
}

function unitSet(name = 'u1', labels?: Record<string, string>): KubeObject {
  return {
    apiVersion: 'upm.io/v1',
    kind: 'UnitSet',
    metadata: { name, namespace: 'default', ...(labels ? { labels } : {}) },
    spec: { units: 1 },
  };
}

function attrs(over: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  const object = over.object === undefined ? unitSet() : over.object;
  return {
    operation: 'CREATE',
    kind: { group: 'upm.io', version: 'v1', kind: 'UnitSet' },
    resource: { group: 'upm.io', version: 'v1', resource: 'unitsets' },
    name: object?.metadata.name ?? 'u1',
    namespace: 'default',
    object,
    oldObject: null,
    userInfo: alice,
    options: operationOptions('CREATE', { fieldManager: 'kubectl-create' }),
    ...over,
  };
}

async function rejection(p: Promise<unknown>): Promise<StatusError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof StatusError) return err;
    throw err;
  }
  throw new Error('expected the admission request to fail');
}

describe('mutating webhooks', () => {
  it('injects a sidecar container and a label through a JSON patch, and sends a complete AdmissionReview', async () => {
    source.mutatingConfigs = [mutating('injector', hook('inject.upm.io', '/inject', { rules: [podRule] }))];
    server.on('/inject', () => ({
      patch: [
        { op: 'add', path: '/spec/containers/-', value: { name: 'sidecar', image: 'upm/agent:1' } },
        { op: 'add', path: '/metadata/labels', value: {} },
        { op: 'add', path: '/metadata/labels/upm.io~1injected', value: 'true' },
      ],
    }));
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { generateName: 'web-', namespace: 'default' },
      spec: { containers: [{ name: 'app', image: 'nginx' }] },
    };
    const sink: string[] = [];
    const annotations: Record<string, string> = {};
    const result = await chain().admit(
      attrs({
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        name: '',
        object: pod,
        warnings: sink,
        auditAnnotations: annotations,
      }),
    );
    expect(result.mutated).toBe(true);
    expect(result.object).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { generateName: 'web-', namespace: 'default', labels: { 'upm.io/injected': 'true' } },
      spec: {
        containers: [
          { name: 'app', image: 'nginx' },
          { name: 'sidecar', image: 'upm/agent:1' },
        ],
      },
    });
    // the caller's object is left alone
    expect(pod.spec).toEqual({ containers: [{ name: 'app', image: 'nginx' }] });
    expect(annotations['mutation.webhook.admission.k8s.io/round_0_index_0']).toBe(
      JSON.stringify({ configuration: 'injector', webhook: 'inject.upm.io', mutated: true }),
    );

    expect(server.reviews).toHaveLength(1);
    const { path, headers, review } = server.reviews[0];
    expect(path).toBe('/inject?timeout=10s');
    expect(headers.host).toBe('hook.webhooks.svc:443');
    expect(headers['content-type']).toBe('application/json');
    expect(review.apiVersion).toBe('admission.k8s.io/v1');
    expect(review.kind).toBe('AdmissionReview');
    const req = review.request!;
    expect(req.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(req).toEqual({
      uid: req.uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'default',
      operation: 'CREATE',
      userInfo: {
        username: 'alice',
        uid: 'u-1',
        groups: ['dev', 'system:authenticated'],
        extra: { scopes: ['a', 'b'] },
      },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1', fieldManager: 'kubectl-create' },
    });
  });

  it('runs configurations sorted by name and webhooks in order, each seeing the previous patches', async () => {
    source.mutatingConfigs = [
      mutating('b-config', hook('b1.upm.io', '/b1')),
      mutating('a-config', hook('a1.upm.io', '/a1'), hook('a2.upm.io', '/a2')),
    ];
    const order: string[] = [];
    const step = (name: string) => (review: AdmissionReview) => {
      order.push(name);
      const obj = review.request!.object as KubeObject;
      return {
        patch: [
          { op: 'replace', path: '/spec/units', value: (obj.spec as { units: number }).units * 10 + order.length },
        ],
      };
    };
    server.on('/a1', step('a1')).on('/a2', step('a2')).on('/b1', step('b1'));
    const result = await chain().admit(attrs());
    expect(order).toEqual(['a1', 'a2', 'b1']);
    expect((result.object!.spec as { units: number }).units).toBe(((1 * 10 + 1) * 10 + 2) * 10 + 3);
  });

  it('reinvokes IfNeeded webhooks once when a later webhook changed the object', async () => {
    source.mutatingConfigs = [
      mutating(
        'a',
        hook('first.upm.io', '/first', { reinvocationPolicy: 'IfNeeded' }),
        hook('never.upm.io', '/never'),
        hook('last.upm.io', '/last'),
      ),
    ];
    // first: adds label a once (idempotent); never: no-op; last: adds label b.
    server.on('/first', (r) => {
      const labels = (r.request!.object as KubeObject).metadata.labels ?? {};
      return labels['a'] ? {} : { patch: [{ op: 'add', path: '/metadata/labels', value: { ...labels, a: '1' } }] };
    });
    server.on('/never', () => ({}));
    server.on('/last', (r) => {
      const labels = (r.request!.object as KubeObject).metadata.labels ?? {};
      return labels['b'] ? {} : { patch: [{ op: 'add', path: '/metadata/labels/b', value: '2' }] };
    });
    const result = await chain().admit(attrs());
    expect(result.object!.metadata.labels).toEqual({ a: '1', b: '2' });
    const first = server.received('/first');
    expect(first).toHaveLength(2);
    expect((first[1].request!.object as KubeObject).metadata.labels).toEqual({ a: '1', b: '2' });
    expect(server.received('/never')).toHaveLength(1);
    expect(server.received('/last')).toHaveLength(1);
    expect(result.auditAnnotations['mutation.webhook.admission.k8s.io/round_1_index_0']).toBe(
      JSON.stringify({ configuration: 'a', webhook: 'first.upm.io', mutated: false }),
    );
  });

  it('does not reinvoke Never webhooks, nor IfNeeded webhooks when nothing changed after them', async () => {
    source.mutatingConfigs = [mutating('a', hook('first.upm.io', '/first'), hook('last.upm.io', '/last'))];
    server.on('/first', () => ({}));
    server.on('/last', () => ({ patch: [{ op: 'add', path: '/metadata/labels', value: { b: '2' } }] }));
    await chain().admit(attrs());
    expect(server.received('/first')).toHaveLength(1);

    server.reviews.length = 0;
    source.mutatingConfigs = [
      mutating('a', hook('first.upm.io', '/first', { reinvocationPolicy: 'IfNeeded' }), hook('last.upm.io', '/last')),
    ];
    server.on('/last', () => ({}));
    await chain().admit(attrs());
    expect(server.received('/first')).toHaveLength(1);
  });

  it('applies the resource defaulter after each patch', async () => {
    source.mutatingConfigs = [mutating('a', hook('m.upm.io', '/m'))];
    server.on('/m', () => ({ patch: [{ op: 'remove', path: '/spec/units' }] }));
    const result = await chain().admit(
      attrs({
        defaulter: (o) => {
          const spec = o.spec as Record<string, unknown>;
          spec['units'] ??= 3;
        },
      }),
    );
    expect(result.object!.spec).toEqual({ units: 3 });
  });

  it('rejects a patch that does not apply, even with failurePolicy Ignore (500)', async () => {
    source.mutatingConfigs = [mutating('a', hook('m.upm.io', '/m', { failurePolicy: 'Ignore' }))];
    server.on('/m', () => ({ patch: [{ op: 'remove', path: '/spec/missing' }] }));
    const err = await rejection(chain().admit(attrs()));
    expect(err.code).toBe(500);
    expect(err.reason).toBe('InternalError');
    expect(err.message).toBe('Internal error occurred: unable to remove nonexistent key: missing: missing value');
  });

  it('rejects a patch that changes the kind or leaves no object (500)', async () => {
    source.mutatingConfigs = [mutating('a', hook('m.upm.io', '/m'))];
    server.on('/m', () => ({ patch: [{ op: 'replace', path: '/kind', value: 'Other' }] }));
    let err = await rejection(chain().admit(attrs()));
    expect(err.code).toBe(500);
    expect(err.message).toBe(
      'Internal error occurred: admission webhook "m.upm.io" changed the object from upm.io/v1, Kind=UnitSet to upm.io/v1, Kind=Other',
    );

    server.on('/m', () => ({ patch: [{ op: 'replace', path: '', value: [1] }] }));
    err = await rejection(chain().admit(attrs()));
    expect(err.message).toBe(
      'Internal error occurred: json: cannot unmarshal array into Go value of type map[string]interface {}',
    );

    server.on('/m', () => ({ patch: [{ op: 'remove', path: '/kind' }] }));
    err = await rejection(chain().admit(attrs()));
    expect(err.message).toMatch(/^Internal error occurred: Object 'Kind' is missing in '\{"apiVersion":"upm.io\/v1"/);
  });

  it('rejects a patch on DELETE, where there is no object (500)', async () => {
    source.mutatingConfigs = [mutating('a', hook('m.upm.io', '/m'))];
    server.on('/m', () => ({ patch: [{ op: 'add', path: '/x', value: 1 }] }));
    const err = await rejection(
      chain().admit(
        attrs({ operation: 'DELETE', object: null, oldObject: unitSet(), options: operationOptions('DELETE') }),
      ),
    );
    expect(err.code).toBe(500);
    expect(err.message).toBe(
      'Internal error occurred: admission webhook "m.upm.io" attempted to modify the object, which is not supported for this operation',
    );
    const req = server.received('/m')[0].request!;
    expect(req.object).toBeNull();
    expect(req.oldObject).toEqual(unitSet());
    expect(req.operation).toBe('DELETE');
    expect(req.options).toEqual({ kind: 'DeleteOptions', apiVersion: 'meta.k8s.io/v1' });
  });

  it('treats non-JSONPatch patch types and undecodable patches as call failures (failurePolicy applies)', async () => {
    source.mutatingConfigs = [mutating('a', hook('m.upm.io', '/m'))];
    server.on('/m', () => ({ patch: [{ op: 'add', path: '/x', value: 1 }], patchType: 'MergePatch' }));
    let err = await rejection(chain().admit(attrs()));
    expect(err.code).toBe(500);
    expect(err.message).toBe(
      'Internal error occurred: failed calling webhook "m.upm.io": unsupported patch type "MergePatch"',
    );

    server.on('/m', () => ({ rawPatch: Buffer.from('{"op":"add"}').toString('base64'), patchType: 'JSONPatch' }));
    err = await rejection(chain().admit(attrs()));
    expect(err.message).toBe(
      'Internal error occurred: failed calling webhook "m.upm.io": received undecodable patch in webhook response: a JSON patch must be an array of operations',
    );

    source.mutatingConfigs = [mutating('a', hook('m.upm.io', '/m', { failurePolicy: 'Ignore' }))];
    const ok = await chain().admit(attrs());
    expect(ok.mutated).toBe(false);
    expect(ok.failedOpen).toEqual(['m.upm.io']);
    expect(ok.auditAnnotations['failed-open.mutation.webhook.admission.k8s.io/round_0_index_0']).toBe('m.upm.io');
  });
});

describe('matching through the chain', () => {
  it('calls only webhooks whose rules, namespaceSelector and objectSelector match', async () => {
    source.validatingConfigs = [
      validating(
        'v',
        hook('all.upm.io', '/all'),
        hook('status.upm.io', '/status', { rules: [{ ...unitSetRule, resources: ['unitsets/status'] }] }),
        hook('delete.upm.io', '/delete', { rules: [{ ...unitSetRule, operations: ['DELETE'] }] }),
        hook('prod.upm.io', '/prod', { namespaceSelector: { matchLabels: { env: 'prod' } } }),
        hook('labelled.upm.io', '/labelled', {
          objectSelector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['db'] }] },
        }),
        hook('cluster.upm.io', '/cluster', { rules: [{ ...unitSetRule, scope: 'Cluster' }] }),
      ),
    ];
    for (const p of ['/all', '/status', '/delete', '/prod', '/labelled', '/cluster']) server.on(p, () => ({}));
    const called = () => [...new Set(server.reviews.map((r) => r.path.split('?')[0]))].sort();

    await chain().validate(attrs());
    expect(called()).toEqual(['/all']);

    server.reviews.length = 0;
    await chain().validate(
      attrs({ namespace: 'prod', object: { ...unitSet(), metadata: { name: 'u1', namespace: 'prod' } } }),
    );
    expect(called()).toEqual(['/all', '/prod']);

    server.reviews.length = 0;
    await chain().validate(
      attrs({ operation: 'UPDATE', object: unitSet('u1'), oldObject: unitSet('u1', { tier: 'db' }) }),
    );
    expect(called()).toEqual(['/all', '/labelled']);

    server.reviews.length = 0;
    await chain().validate(attrs({ operation: 'UPDATE', subResource: 'status', oldObject: unitSet() }));
    expect(called()).toEqual(['/status']);
    expect(server.received('/status')[0].request!.subResource).toBe('status');
    expect(server.received('/status')[0].request!.requestSubResource).toBe('status');

    server.reviews.length = 0;
    await chain().validate(attrs({ operation: 'DELETE', object: null, oldObject: unitSet() }));
    expect(called()).toEqual(['/all', '/delete']);
  });

  it('answers 404 when the namespace a selector needs does not exist', async () => {
    source.validatingConfigs = [
      validating('v', hook('prod.upm.io', '/prod', { namespaceSelector: { matchLabels: { env: 'prod' } } })),
    ];
    const err = await rejection(chain().validate(attrs({ namespace: 'ghost' })));
    expect(err.code).toBe(404);
    expect(err.message).toBe('namespaces "ghost" not found');
    expect(server.reviews).toHaveLength(0);
  });

  it('never calls webhooks for admission configuration objects', async () => {
    source.validatingConfigs = [
      validating(
        'v',
        hook('all.upm.io', '/all', {
          rules: [{ operations: ['*'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*'] }],
        }),
      ),
    ];
    server.on('/all', () => ({ allowed: false }));
    await chain().validate(
      attrs({
        kind: { group: 'admissionregistration.k8s.io', version: 'v1', kind: 'ValidatingWebhookConfiguration' },
        resource: { group: 'admissionregistration.k8s.io', version: 'v1', resource: 'validatingwebhookconfigurations' },
        namespace: '',
      }),
    );
    expect(server.reviews).toHaveLength(0);
    await expect(chain().validate(attrs())).rejects.toBeInstanceOf(WebhookDeniedError);
  });

  it("evaluates matchConditions by default; policy 'call' calls and reports it; 'error' fails closed or skips", async () => {
    const conditions = [{ name: 'not-system', expression: "!request.userInfo.username.startsWith('system:')" }];
    source.validatingConfigs = [validating('v', hook('cel.upm.io', '/cel', { matchConditions: conditions }))];
    server.on('/cel', () => ({}));
    await chain().validate(attrs());
    expect(server.received('/cel')).toHaveLength(1);
    server.reviews.length = 0;
    await chain().validate({ ...attrs(), userInfo: { username: 'system:kube-controller-manager', groups: [] } });
    expect(server.reviews).toHaveLength(0);
    await chain({ matchConditionsPolicy: 'call' }).validate(attrs());
    expect(events).toContainEqual({
      type: 'matchConditionsNotEvaluated',
      phase: 'validating',
      configuration: 'v',
      webhook: 'cel.upm.io',
      conditions: 1,
    });

    server.reviews.length = 0;
    const err = await rejection(chain({ matchConditionsPolicy: 'error' }).validate(attrs()));
    expect(err.code).toBe(403);
    expect(err.message).toBe(
      'unitsets.upm.io "u1" is forbidden: matchConditions of webhook "cel.upm.io" cannot be evaluated: CEL is not supported by this server',
    );
    expect(server.reviews).toHaveLength(0);

    source.validatingConfigs = [
      validating('v', hook('cel.upm.io', '/cel', { matchConditions: conditions, failurePolicy: 'Ignore' })),
    ];
    await chain({ matchConditionsPolicy: 'error' }).validate(attrs());
    expect(server.reviews).toHaveLength(0);
  });
});

describe('validating webhooks', () => {
  it('denies with the webhook message and code', async () => {
    source.validatingConfigs = [validating('v', hook('v.upm.io', '/v'))];
    server.on('/v', () => ({
      allowed: false,
      status: {
        code: 422,
        reason: 'Invalid',
        message: 'spec.units must be odd',
        details: { causes: [{ field: 'spec.units' }] },
      },
    }));
    const err = await rejection(chain().validate(attrs()));
    expect(err).toBeInstanceOf(WebhookDeniedError);
    expect(err.code).toBe(422);
    expect(err.message).toBe('admission webhook "v.upm.io" denied the request: spec.units must be odd');
    expect(err.toStatus()).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'admission webhook "v.upm.io" denied the request: spec.units must be odd',
      reason: 'Invalid',
      details: { causes: [{ field: 'spec.units' }] },
      code: 422,
    });
  });

  it('forces codes below 400 to 400 and explains missing messages as kube does', async () => {
    source.validatingConfigs = [validating('v', hook('v.upm.io', '/v'))];
    server.on('/v', () => ({ allowed: false, status: { code: 200, message: 'nope' } }));
    let err = await rejection(chain().validate(attrs()));
    expect(err.code).toBe(400);
    expect(err.toStatus()).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'admission webhook "v.upm.io" denied the request: nope',
      code: 400,
    });

    server.on('/v', () => ({ allowed: false }));
    err = await rejection(chain().validate(attrs()));
    expect(err.message).toBe('admission webhook "v.upm.io" denied the request without explanation');

    server.on('/v', () => ({ allowed: false, status: { reason: 'Forbidden', code: 403 } }));
    err = await rejection(chain().validate(attrs()));
    expect(err.code).toBe(403);
    expect(err.message).toBe('admission webhook "v.upm.io" denied the request: Forbidden');
  });

  it('calls matching webhooks in parallel and reports the first denial in webhook order', async () => {
    source.validatingConfigs = [
      validating('v', hook('slow-deny.upm.io', '/a'), hook('fast-deny.upm.io', '/b'), hook('allow.upm.io', '/c')),
    ];
    server.on('/a', () => ({ allowed: false, status: { message: 'a says no' }, delayMs: 800 }));
    server.on('/b', () => ({ allowed: false, status: { message: 'b says no' } }));
    server.on('/c', () => ({ delayMs: 800 }));
    const started = Date.now();
    const err = await rejection(chain().validate(attrs()));
    const elapsed = Date.now() - started;
    expect(err.message).toBe('admission webhook "slow-deny.upm.io" denied the request: a says no');
    expect(server.reviews).toHaveLength(3);
    expect(elapsed).toBeGreaterThanOrEqual(750);
    expect(elapsed).toBeLessThan(1500);
  });

  it('collects warnings (for Warning headers) and prefixes audit annotations with the webhook name', async () => {
    source.mutatingConfigs = [mutating('m', hook('m.upm.io', '/m'))];
    source.validatingConfigs = [validating('v', hook('v.upm.io', '/v'))];
    server.on('/m', () => ({ warnings: ['spec.units is deprecated'], auditAnnotations: { decision: 'mutated' } }));
    server.on('/v', () => ({
      allowed: false,
      warnings: ['spec.units is deprecated', 'consider 3 units'],
      status: { message: 'no' },
    }));
    const sink: string[] = [];
    const annotations: Record<string, string> = {};
    const a = attrs({ warnings: sink, auditAnnotations: annotations });
    const admitted = await chain().admit(a);
    expect(admitted.warnings).toEqual(['spec.units is deprecated']);
    expect(admitted.auditAnnotations['m.upm.io/decision']).toBe('mutated');
    await expect(chain().validate(a)).rejects.toBeInstanceOf(WebhookDeniedError);
    // warnings reach the sink even though the request failed
    expect(sink).toEqual(['spec.units is deprecated', 'consider 3 units']);
    expect(annotations['m.upm.io/decision']).toBe('mutated');
  });
});

describe('call failures and failurePolicy', () => {
  const downHook = (failurePolicy: 'Fail' | 'Ignore') =>
    hook('down.upm.io', '/down', {
      failurePolicy,
      clientConfig: { service: { namespace: 'webhooks', name: 'down', path: '/down' }, caBundle: server.caBundle },
    });

  it('Fail: an unreachable webhook fails the request with 500 and kube text', async () => {
    source.validatingConfigs = [validating('v', downHook('Fail'))];
    const err = await rejection(chain().validate(attrs()));
    expect(err.code).toBe(500);
    expect(err.reason).toBe('InternalError');
    const reason = `failed calling webhook "down.upm.io": failed to call webhook: Post "https://down.webhooks.svc:443/down?timeout=10s": dial tcp 127.0.0.1:${downPort}: connect: connection refused`;
    expect(err.message).toBe(`Internal error occurred: ${reason}`);
    expect(err.details).toEqual({ causes: [{ message: reason }] });
  });

  it('Ignore: an unreachable webhook is skipped and recorded', async () => {
    source.mutatingConfigs = [mutating('m', downHook('Ignore'))];
    source.validatingConfigs = [validating('v', hook('ok.upm.io', '/ok'), downHook('Ignore'))];
    server.on('/ok', () => ({}));
    const admitted = await chain().admit(attrs());
    expect(admitted.failedOpen).toEqual(['down.upm.io']);
    expect(admitted.auditAnnotations['failed-open.mutation.webhook.admission.k8s.io/round_0_index_0']).toBe(
      'down.upm.io',
    );
    const validated = await chain().validate(attrs());
    expect(validated.failedOpen).toEqual(['down.upm.io']);
    expect(validated.auditAnnotations['failed-open.validating.webhook.admission.k8s.io/round_0_index_1']).toBe(
      'down.upm.io',
    );
    const failedOpen = events.filter((e) => e.type === 'failedOpen');
    expect(failedOpen.map((e) => e.phase)).toEqual(['mutating', 'validating']);
    expect(failedOpen[0]).toMatchObject({
      webhook: 'down.upm.io',
      error: expect.stringContaining('connection refused'),
    });
  });

  it('a service without endpoints is a call failure', async () => {
    source.validatingConfigs = [
      validating(
        'v',
        hook('gone.upm.io', '/gone', {
          clientConfig: { service: { namespace: 'webhooks', name: 'gone', path: '/gone' } },
        }),
      ),
    ];
    const err = await rejection(chain().validate(attrs()));
    expect(err.message).toBe(
      'Internal error occurred: failed calling webhook "gone.upm.io": failed to call webhook: Post "https://gone.webhooks.svc:443/gone?timeout=10s": no endpoints available for service "gone"',
    );
  });

  it('times out after timeoutSeconds: Fail → 500 context deadline exceeded, Ignore → skipped', async () => {
    server.on('/slow', () => ({ delayMs: 2500 }));
    source.validatingConfigs = [validating('v', hook('slow.upm.io', '/slow', { timeoutSeconds: 1 }))];
    let started = Date.now();
    const err = await rejection(chain().validate(attrs()));
    let elapsed = Date.now() - started;
    expect(err.code).toBe(500);
    expect(err.message).toBe(
      'Internal error occurred: failed calling webhook "slow.upm.io": failed to call webhook: Post "https://hook.webhooks.svc:443/slow?timeout=1s": context deadline exceeded',
    );
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(2000);
    expect(server.reviews[0].path).toBe('/slow?timeout=1s');

    source.mutatingConfigs = [
      mutating('m', hook('slow.upm.io', '/slow', { timeoutSeconds: 1, failurePolicy: 'Ignore' })),
    ];
    started = Date.now();
    const admitted = await chain().admit(attrs());
    elapsed = Date.now() - started;
    expect(admitted.failedOpen).toEqual(['slow.upm.io']);
    expect(elapsed).toBeLessThan(2000);
  });

  it('a caBundle that did not sign the serving certificate is a call failure', async () => {
    const otherCA = createCA('someone-else');
    const wrongCA = {
      service: { namespace: 'webhooks', name: 'hook', path: '/v' },
      caBundle: encodeCABundle(otherCA.certPem),
    };
    server.on('/v', () => ({}));
    source.validatingConfigs = [validating('v', hook('v.upm.io', '/v', { clientConfig: wrongCA }))];
    const err = await rejection(chain().validate(attrs()));
    expect(err.code).toBe(500);
    expect(err.message).toBe(
      'Internal error occurred: failed calling webhook "v.upm.io": failed to call webhook: Post "https://hook.webhooks.svc:443/v?timeout=10s": tls: failed to verify certificate: x509: certificate signed by unknown authority',
    );
    expect(server.reviews).toHaveLength(0);

    source.validatingConfigs = [
      validating('v', hook('v.upm.io', '/v', { clientConfig: wrongCA, failurePolicy: 'Ignore' })),
    ];
    expect((await chain().validate(attrs())).failedOpen).toEqual(['v.upm.io']);
  });

  it('verifies the certificate against <service>.<namespace>.svc', async () => {
    // "other.webhooks.svc" resolves to the same server, whose certificate does not name it.
    source.validatingConfigs = [
      validating(
        'v',
        hook('v.upm.io', '/v', {
          clientConfig: { service: { namespace: 'webhooks', name: 'other', path: '/v' }, caBundle: server.caBundle },
        }),
      ),
    ];
    server.on('/v', () => ({}));
    const err = await rejection(chain().validate(attrs()));
    expect(err.message).toBe(
      'Internal error occurred: failed calling webhook "v.upm.io": failed to call webhook: Post "https://other.webhooks.svc:443/v?timeout=10s": tls: failed to verify certificate: x509: certificate is valid for hook.webhooks.svc, localhost, 127.0.0.1, not other.webhooks.svc',
    );
    expect(server.reviews).toHaveLength(0);
  });

  it('calls a url clientConfig directly (IP address: certificate IP SAN)', async () => {
    source.validatingConfigs = [
      validating(
        'v',
        hook('url.upm.io', '/by-url', {
          clientConfig: { url: `https://127.0.0.1:${server.port}/by-url`, caBundle: server.caBundle },
        }),
      ),
    ];
    server.on('/by-url', () => ({ allowed: false, status: { message: 'seen' } }));
    const err = await rejection(chain().validate(attrs()));
    expect(err.message).toBe('admission webhook "url.upm.io" denied the request: seen');
    expect(server.reviews[0].path).toBe('/by-url?timeout=10s');
    expect(server.reviews[0].headers.host).toBe(`127.0.0.1:${server.port}`);
  });

  it('invalid responses are call failures with kube texts', async () => {
    source.validatingConfigs = [validating('v', hook('v.upm.io', '/v'))];
    const cases: [Parameters<typeof server.on>[1], string][] = [
      [
        () => ({ uid: 'not-the-uid' }),
        'received invalid webhook response: expected response.uid="<uid>", got "not-the-uid"',
      ],
      [
        () => ({ apiVersion: 'admission.k8s.io/v1beta1' }),
        'received invalid webhook response: expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got admission.k8s.io/v1beta1, Kind=AdmissionReview',
      ],
      [
        () => ({ patch: [{ op: 'add', path: '/x', value: 1 }] }),
        'received invalid webhook response: validating webhook may not return response.patch',
      ],
      [
        () => ({
          raw: { status: 200, body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }) },
        }),
        'received invalid webhook response: webhook response was absent',
      ],
      [
        () => ({ raw: { status: 500, body: 'boom' } }),
        'failed to call webhook: an error on the server ("boom") has prevented the request from succeeding',
      ],
      [
        () => ({ raw: { status: 418, body: '' } }),
        'failed to call webhook: the server responded with the status code 418 but did not return more information',
      ],
    ];
    for (const [responder, reason] of cases) {
      server.reviews.length = 0;
      server.on('/v', responder);
      const err = await rejection(chain().validate(attrs()));
      const uid = server.reviews[0].review.request!.uid;
      expect(err.code).toBe(500);
      expect(err.message).toBe(
        `Internal error occurred: failed calling webhook "v.upm.io": ${reason.replace('<uid>', uid)}`,
      );
    }
  });

  it('mutating responses must pair patch and patchType', async () => {
    source.mutatingConfigs = [mutating('m', hook('m.upm.io', '/m'))];
    server.on('/m', () => ({ patch: [{ op: 'add', path: '/x', value: 1 }], patchType: null }));
    let err = await rejection(chain().admit(attrs()));
    expect(err.message).toBe(
      'Internal error occurred: failed calling webhook "m.upm.io": received invalid webhook response: webhook returned response.patch but not response.patchType',
    );
    server.on('/m', () => ({ patchType: 'JSONPatch' }));
    err = await rejection(chain().admit(attrs()));
    expect(err.message).toBe(
      'Internal error occurred: failed calling webhook "m.upm.io": received invalid webhook response: webhook returned response.patchType but not response.patch',
    );
  });

  it('sends v1beta1 reviews to webhooks that only accept v1beta1', async () => {
    source.validatingConfigs = [
      validating('v', hook('old.upm.io', '/old', { admissionReviewVersions: ['v1beta2', 'v1beta1'] })),
    ];
    server.on('/old', () => ({ uid: 'anything', apiVersion: 'admission.k8s.io/v1beta1' }));
    await chain().validate(attrs());
    expect(server.received('/old')[0].apiVersion).toBe('admission.k8s.io/v1beta1');

    source.validatingConfigs = [validating('v', hook('new.upm.io', '/old', { admissionReviewVersions: ['v2'] }))];
    const err = await rejection(chain().validate(attrs()));
    expect(err.message).toBe(
      'Internal error occurred: failed calling webhook "new.upm.io": could not create admission objects: webhook does not accept known AdmissionReview versions (v1, v1beta1)',
    );
  });
});

describe('dry run', () => {
  it('sideEffects Some or Unknown: the request fails with 400 and the webhook is not called', async () => {
    for (const sideEffects of ['Some', 'Unknown'] as const) {
      source.mutatingConfigs = [
        mutating('m', hook('effects.upm.io', '/effects', { sideEffects, failurePolicy: 'Ignore' })),
      ];
      const err = await rejection(chain().admit(attrs({ dryRun: true })));
      expect(err.code).toBe(400);
      expect(err.reason).toBe('BadRequest');
      expect(err.message).toBe('admission webhook "effects.upm.io" does not support dry run');
    }
    source.mutatingConfigs = [];
    source.validatingConfigs = [validating('v', hook('effects.upm.io', '/effects', { sideEffects: 'Some' }))];
    const err = await rejection(chain().validate(attrs({ dryRun: true })));
    expect(err.code).toBe(400);
    expect(server.reviews).toHaveLength(0);
  });

  it('sideEffects None and NoneOnDryRun: called with dryRun true', async () => {
    source.mutatingConfigs = [mutating('m', hook('none.upm.io', '/none', { sideEffects: 'None' }))];
    source.validatingConfigs = [validating('v', hook('noneondryrun.upm.io', '/nodr', { sideEffects: 'NoneOnDryRun' }))];
    server.on('/none', () => ({ patch: [{ op: 'add', path: '/metadata/labels', value: { dry: 'run' } }] }));
    server.on('/nodr', () => ({}));
    const a = attrs({ dryRun: true, options: operationOptions('CREATE', { dryRun: true }) });
    const admitted = await chain().admit(a);
    expect(admitted.object!.metadata.labels).toEqual({ dry: 'run' });
    await chain().validate({ ...a, object: admitted.object });
    for (const path of ['/none', '/nodr']) {
      const req = server.received(path)[0].request!;
      expect(req.dryRun).toBe(true);
      expect(req.options).toEqual({ kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1', dryRun: ['All'] });
    }
  });

  it('sideEffects missing: a call failure that failurePolicy decides', async () => {
    const { sideEffects: _omit, ...noSideEffects } = hook('unset.upm.io', '/unset');
    source.validatingConfigs = [validating('v', noSideEffects)];
    const err = await rejection(chain().validate(attrs({ dryRun: true })));
    expect(err.message).toBe(
      'Internal error occurred: failed calling webhook "unset.upm.io": Webhook SideEffects is nil',
    );
    source.validatingConfigs = [validating('v', { ...noSideEffects, failurePolicy: 'Ignore' })];
    expect((await chain().validate(attrs({ dryRun: true }))).failedOpen).toEqual(['unset.upm.io']);
  });
});

describe('AdmissionChain construction', () => {
  it('needs a namespace label source', () => {
    const configsOnly: WebhookConfigurationSource = { mutating: () => [], validating: () => [] };
    expect(() => new AdmissionChain({ source: configsOnly })).toThrow('namespace label source');
    expect(() =>
      new AdmissionChain({ source: configsOnly, namespaces: { namespaceLabels: () => ({}) } }).close(),
    ).not.toThrow();
  });

  it('with no configurations, admit returns the object unchanged without calling anything', async () => {
    const a = attrs();
    const r = await chain().admit(a);
    expect(r).toEqual({ object: a.object, mutated: false, warnings: [], auditAnnotations: {}, failedOpen: [] });
    expect(await chain().validate(a)).toEqual({ warnings: [], auditAnnotations: {}, failedOpen: [] });
  });
});
