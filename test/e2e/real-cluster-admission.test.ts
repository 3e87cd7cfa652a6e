// Admission for upm.io on a real control plane (test/cluster: kube-apiserver 1.34 with
// `upm-engine apiserver` behind it, given --kubeconfig): kube-apiserver does not run admission
// for the requests it proxies to an aggregated server, so the ValidatingAdmissionPolicy and
// the validating webhook below, created in kube-apiserver (which checks their CEL and fields
// itself), reach UnitSets only because the upm.io server runs them.

import { startRealCluster, type RealCluster } from '../cluster/cluster.js';
import type { KubectlResult } from '../cluster/kubectl.js';
import { FakeWebhookServer } from '../../src/apiserver/admission/testing/webhook-server.js';
import { waitFor } from './harness.js';

describe('admission for upm.io on a real control plane', () => {
  let cluster: RealCluster;
  let hooks: FakeWebhookServer | undefined;

  beforeAll(async () => {
    cluster = await startRealCluster({ admission: true });
  }, 180_000);

  afterAll(async () => {
    await hooks?.close();
    await cluster?.stop();
  });

  const kubectl = (args: string[], input?: string): Promise<KubectlResult> => cluster.kubectl('1.33', args, { input });
  async function ok(args: string[], input?: string): Promise<KubectlResult> {
    const r = await kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited with ${r.code}\n${r.stderr}${r.stdout}`);
    return r;
  }

  const unitSet = (name: string, units: number) =>
    JSON.stringify({
      apiVersion: 'upm.io/v1alpha1',
      kind: 'UnitSet',
      metadata: { name },
      spec: { type: 'mysql', version: '8.0.36', units },
    });

  it('applies a ValidatingAdmissionPolicy of kube-apiserver to UnitSets: Deny, then Warn', async () => {
    await ok(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicy',
        metadata: { name: 'max-units' },
        spec: {
          matchConstraints: {
            resourceRules: [
              { apiGroups: ['upm.io'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['unitsets'] },
            ],
          },
          validations: [{ expression: 'object.spec.units <= 5', message: 'at most 5 units' }],
        },
      }),
    );
    const binding = (actions: string[]) =>
      JSON.stringify({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicyBinding',
        metadata: { name: 'max-units' },
        spec: { policyName: 'max-units', validationActions: actions },
      });
    await ok(['apply', '-f', '-'], binding(['Deny']));
    let denied = '';
    await waitFor(
      'the policy to deny',
      async () => {
        const r = await kubectl(['apply', '-f', '-'], unitSet('big', 9));
        denied = r.stderr;
        return r.code !== 0;
      },
      20_000,
    );
    expect(denied).toContain(
      "ValidatingAdmissionPolicy 'max-units' with binding 'max-units' denied request: at most 5 units",
    );
    await ok(['apply', '-f', '-'], binding(['Warn']));
    let warned: KubectlResult | undefined;
    await waitFor(
      'the policy to warn',
      async () => {
        warned = await kubectl(['apply', '-f', '-'], unitSet('big', 9));
        return warned.code === 0;
      },
      20_000,
    );
    expect(warned!.stderr).toContain(
      "Warning: Validation failed for ValidatingAdmissionPolicy 'max-units' with binding 'max-units': at most 5 units",
    );
    await ok(['delete', 'validatingadmissionpolicybinding', 'max-units']);
  }, 90_000);

  it('calls a validating webhook registered in kube-apiserver for unitsets', async () => {
    hooks = await FakeWebhookServer.start();
    hooks.on('/validate', () => ({ allowed: false, status: { code: 403, message: 'frozen by change control' } }));
    await ok(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingWebhookConfiguration',
        metadata: { name: 'change-control' },
        webhooks: [
          {
            name: 'unitsets.change-control.example.com',
            clientConfig: { url: `https://127.0.0.1:${hooks.port}/validate`, caBundle: hooks.caBundle },
            rules: [
              { operations: ['CREATE', 'UPDATE'], apiGroups: ['upm.io'], apiVersions: ['*'], resources: ['unitsets'] },
            ],
            failurePolicy: 'Fail',
            sideEffects: 'None',
            admissionReviewVersions: ['v1'],
          },
        ],
      }),
    );
    let denied = '';
    await waitFor(
      'the webhook to deny',
      async () => {
        const r = await kubectl(['apply', '-f', '-'], unitSet('frozen', 1));
        denied = r.stderr;
        return r.code !== 0;
      },
      20_000,
    );
    expect(denied).toContain(
      'admission webhook "unitsets.change-control.example.com" denied the request: frozen by change control',
    );
    const review = hooks.received('/validate').at(-1)!;
    expect(review.request).toMatchObject({
      kind: { group: 'upm.io', kind: 'UnitSet' },
      resource: { group: 'upm.io', resource: 'unitsets' },
      operation: 'CREATE',
      name: 'frozen',
      namespace: 'default',
    });
    // The user as kube-apiserver authenticated it, forwarded to the upm.io server by the aggregator.
    expect(review.request!.userInfo.groups).toContain('system:masters');
    await ok(['delete', 'validatingwebhookconfiguration', 'change-control']);
  }, 90_000);
});
