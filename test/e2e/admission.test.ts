// Admission end to end on `upm-engine local` with the real kubectl: the webhook server that
// `local` starts and registers (sidecar injection into Pods, validation of UnitTemplates and
// UnitSets), a user's webhooks registered for unitsets in the control plane and called by the
// upm.io server (failurePolicy Fail and Ignore with the webhook down), and a
// ValidatingAdmissionPolicy with a CEL rule on spec.units (Deny, then Warn).

import { FakeWebhookServer, closedPort } from '../../src/apiserver/admission/testing/webhook-server.js';
import { join } from 'node:path';
import { cleanup, repoRoot, startEngine, waitFor, type Engine, type KubectlResult } from './harness.js';

const kubectlVersion = '1.33';

describe('admission on upm-engine local', () => {
  let engine: Engine;
  let hooks: FakeWebhookServer | undefined;

  beforeAll(async () => {
    // With the controllers: the Pods of a UnitSet are theirs to create.
    engine = await startEngine({ controllers: true });
  }, 60_000);

  afterAll(async () => {
    await hooks?.close();
    await engine?.stop();
    if (engine) cleanup(engine);
  });

  const kubectl = (args: string[], input?: string): Promise<KubectlResult> =>
    engine.kubectl(kubectlVersion, args, { input });

  async function ok(args: string[], input?: string): Promise<KubectlResult> {
    const r = await kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited with ${r.code}\n${r.stderr}${r.stdout}`);
    return r;
  }

  async function fails(args: string[], input?: string): Promise<string> {
    const r = await kubectl(args, input);
    if (r.code === 0) throw new Error(`kubectl ${args.join(' ')} succeeded:\n${r.stdout}${r.stderr}`);
    return r.stderr;
  }

  async function getJSON(args: string[]): Promise<any> {
    return JSON.parse((await ok(['get', ...args, '-o', 'json'])).stdout);
  }

  /** Applies `input` until `check` holds (configurations reach the servers through watches). */
  async function eventually(what: string, attempt: () => Promise<boolean>): Promise<void> {
    await waitFor(what, attempt, 15_000);
  }

  const yaml = (o: unknown) => JSON.stringify(o);

  const exporterSidecarSet = yaml({
    apiVersion: 'upm.io/v1alpha1',
    kind: 'SidecarSet',
    metadata: { name: 'mysql-exporter' },
    spec: {
      selector: { matchLabels: { 'upm.io/type': 'mysql' } },
      containers: [
        {
          name: 'mysqld-exporter',
          image: 'prom/mysqld-exporter:v0.15.1',
          ports: [{ name: 'metrics', containerPort: 9104 }],
        },
      ],
    },
  });

  const pod = (name: string, annotations?: Record<string, string>) =>
    yaml({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        labels: { 'upm.io/unit': name, 'upm.io/unitset': 'db', 'upm.io/type': 'mysql' },
        ...(annotations ? { annotations } : {}),
      },
      spec: { containers: [{ name: 'mysql', image: 'mysql:8.0.36' }] },
    });

  const containerNames = (p: any): string[] => p.spec.containers.map((c: { name: string }) => c.name);

  it('injects a SidecarSet into a Unit-labelled Pod; a second pass changes nothing; an opted-out Pod gets nothing', async () => {
    expect((await ok(['apply', '-f', '-'], exporterSidecarSet)).stdout).toBe(
      'sidecarset.upm.io/mysql-exporter created\n',
    );
    // The webhook's cache learns of the SidecarSet through its watch: probe until it injects.
    let probes = 0;
    await eventually('the webhook to see the SidecarSet', async () => {
      const name = `probe-${probes++}`;
      await ok(['create', '-f', '-'], pod(name));
      const injected = containerNames(await getJSON(['pod', name])).includes('mysqld-exporter');
      await ok(['delete', 'pod', name, '--wait=false']);
      return injected;
    });

    await ok(['apply', '--server-side', '-f', '-'], pod('db-0'));
    const injected = await getJSON(['pod', 'db-0']);
    expect(containerNames(injected)).toEqual(['mysql', 'mysqld-exporter']);
    const record = JSON.parse(injected.metadata.annotations['sidecarset.upm.io/injected']);
    expect(record).toEqual({
      'mysql-exporter': { revision: expect.stringMatching(/^[0-9a-f]{16}$/), containers: ['mysqld-exporter'] },
    });

    // Second pass: the injected Pod sent again (as a controller re-creating it would) stays as it is.
    const again = structuredClone(injected);
    again.metadata = {
      name: 'db-0-again',
      labels: injected.metadata.labels,
      annotations: injected.metadata.annotations,
    };
    delete again.status;
    delete again.spec.nodeName;
    await ok(['create', '-f', '-'], yaml(again));
    const second = await getJSON(['pod', 'db-0-again']);
    expect(containerNames(second)).toEqual(['mysql', 'mysqld-exporter']);
    expect(second.metadata.annotations['sidecarset.upm.io/injected']).toBe(
      injected.metadata.annotations['sidecarset.upm.io/injected'],
    );

    await ok(['create', '-f', '-'], pod('db-1', { 'sidecarset.upm.io/inject': 'false' }));
    const optedOut = await getJSON(['pod', 'db-1']);
    expect(containerNames(optedOut)).toEqual(['mysql']);
    expect(optedOut.metadata.annotations['sidecarset.upm.io/injected']).toBeUndefined();
  });

  it('injects into the Pods the controllers create for a UnitSet, and keeps the sidecar through an in-place update', async () => {
    await ok(['apply', '-f', join(repoRoot, 'examples/unittemplates/mariadb-community-10.11.8.yaml')]);
    await ok(
      ['apply', '-f', '-'],
      yaml({
        apiVersion: 'upm.io/v1alpha1',
        kind: 'SidecarSet',
        metadata: { name: 'mariadb-exporter' },
        spec: {
          selector: { matchLabels: { 'upm.io/type': 'mariadb' } },
          containers: [{ name: 'mysqld-exporter', image: 'prom/mysqld-exporter:v0.15.1' }],
        },
      }),
    );
    const mariadb = (labels?: Record<string, string>) =>
      yaml({
        apiVersion: 'upm.io/v1alpha1',
        kind: 'UnitSet',
        metadata: { name: 'shop-db' },
        spec: { type: 'mariadb', version: '10.11.8', units: 1, ...(labels ? { podMetadata: { labels } } : {}) },
      });
    await eventually(
      'the webhooks to see the template',
      async () => (await kubectl(['apply', '-f', '-'], mariadb())).code === 0,
    );
    let pod: any;
    await eventually('the Unit Pod with the sidecar', async () => {
      const r = await kubectl(['get', 'pod', 'shop-db-0', '-o', 'json']);
      pod = r.code === 0 ? JSON.parse(r.stdout) : undefined;
      return !!pod;
    });
    expect(containerNames(pod)).toContain('mysqld-exporter');
    // A label change is applied to the running Pod in place: same Pod, sidecar still there.
    await ok(['apply', '-f', '-'], mariadb({ team: 'blue' }));
    await eventually(
      'the label on the Pod',
      async () => (await getJSON(['pod', 'shop-db-0'])).metadata.labels?.team === 'blue',
    );
    const updated = await getJSON(['pod', 'shop-db-0']);
    expect(updated.metadata.uid).toBe(pod.metadata.uid);
    expect(containerNames(updated)).toEqual(containerNames(pod));
    await ok(['delete', 'unitset', 'shop-db', '--wait=false']);
  });

  const unitTemplate = (template: string) =>
    yaml({
      apiVersion: 'upm.io/v1alpha1',
      kind: 'UnitTemplate',
      metadata: { name: 'mysql-community-8.0.36' },
      spec: {
        type: 'mysql',
        version: '8.0.36',
        volumes: [{ name: 'data', mountPath: '/var/lib/mysql', size: '10Gi' }],
        parameters: [
          { name: 'max_connections', type: 'integer', default: '1000', minimum: 1 },
          { name: 'innodb_buffer_pool_size', type: 'quantity', default: '128Mi' },
        ],
        podTemplate: {
          spec: {
            containers: [
              { name: 'mysql', image: 'mysql:8.0.36' },
              { name: 'unit-agent', image: 'upm/unit-agent:1.0' },
            ],
          },
        },
        configFiles: [{ name: 'my.cnf', mountPath: '/etc/mysql', format: 'ini', template }],
      },
    });

  it('rejects a UnitTemplate whose configuration template does not render, naming the parameter; accepts a valid one', async () => {
    const broken =
      '[mysqld]\nmax_connections = {{ .Parameters.max_connections }}\nthread_cache_size = {{ .Parameters.thread_cache_size }}\n';
    const stderr = await fails(['apply', '-f', '-'], unitTemplate(broken));
    expect(stderr).toContain('spec.configFiles[0].template');
    expect(stderr).toContain('my.cnf:3: parameter "thread_cache_size" has no value');

    const valid =
      '[mysqld]\nmax_connections = {{ .Parameters.max_connections }}\n' +
      'innodb_buffer_pool_size = {{ bytes .Parameters.innodb_buffer_pool_size }}\nserver-id = {{ add .Unit.ordinal 1 }}\n';
    expect((await ok(['apply', '-f', '-'], unitTemplate(valid))).stdout).toBe(
      'unittemplate.upm.io/mysql-community-8.0.36 created\n',
    );
  });

  const unitSet = (name: string, spec: Record<string, unknown>) =>
    yaml({
      apiVersion: 'upm.io/v1alpha1',
      kind: 'UnitSet',
      metadata: { name },
      spec: { type: 'mysql', version: '8.0.36', units: 1, ...spec },
    });

  it('rejects a UnitSet naming a missing template or shrinking its storage, naming the field', async () => {
    const missing = await fails(['apply', '-f', '-'], unitSet('orders', { template: 'mysql-tuned-8.0.36' }));
    expect(missing).toContain('spec.template: Not found: "mysql-tuned-8.0.36"');

    const volume = (size: string) => ({ storage: { volumes: [{ name: 'data', size }] } });
    await eventually(
      'the webhook to see the UnitTemplate',
      async () => (await kubectl(['apply', '-f', '-'], unitSet('orders', volume('20Gi')))).code === 0,
    );
    const shrink = await fails(['apply', '-f', '-'], unitSet('orders', volume('10Gi')));
    expect(shrink).toContain('spec.storage.volumes[0].size: Forbidden: volumes can grow but not shrink: 20Gi → 10Gi');
    const unknownParameter = await fails(
      ['apply', '-f', '-'],
      unitSet('orders', { ...volume('20Gi'), config: { parameters: { max_conections: '10' } } }),
    );
    expect(unknownParameter).toContain('spec.config.parameters[max_conections]: Not found');
  });

  function webhookConfiguration(
    kind: 'Validating' | 'Mutating',
    path: string,
    failurePolicy: 'Fail' | 'Ignore',
    url: string,
    caBundle: string,
  ) {
    return yaml({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: `${kind}WebhookConfiguration`,
      metadata: { name: `user-${kind.toLowerCase()}` },
      webhooks: [
        {
          name: `${kind.toLowerCase()}.unitsets.example.com`,
          clientConfig: { url: `${url}${path}`, caBundle },
          rules: [
            { operations: ['CREATE', 'UPDATE'], apiGroups: ['upm.io'], apiVersions: ['*'], resources: ['unitsets'] },
          ],
          failurePolicy,
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          timeoutSeconds: 5,
        },
      ],
    });
  }

  it('calls a webhook registered for unitsets: its denial, its mutation, and failurePolicy with the webhook down', async () => {
    hooks = await FakeWebhookServer.start();
    const url = `https://127.0.0.1:${hooks.port}`;
    hooks.on('/validate', (review) => {
      const units = (review.request?.object as any)?.spec?.units;
      return units % 2 === 1
        ? { allowed: true }
        : { allowed: false, status: { code: 403, reason: 'Forbidden', message: 'spec.units must be odd for quorum' } };
    });
    hooks.on('/mutate', (review) =>
      (review.request?.object as any)?.metadata?.labels?.team
        ? {}
        : { patch: [{ op: 'add', path: '/metadata/labels', value: { team: 'blue' } }] },
    );
    await ok(
      ['apply', '--server-side', '-f', '-'],
      webhookConfiguration('Validating', '/validate', 'Fail', url, hooks.caBundle),
    );
    await ok(
      ['apply', '--server-side', '-f', '-'],
      webhookConfiguration('Mutating', '/mutate', 'Fail', url, hooks.caBundle),
    );

    let denied = '';
    await eventually('the user webhook to deny', async () => {
      const r = await kubectl(['apply', '-f', '-'], unitSet('quorum', { units: 2 }));
      denied = r.stderr;
      return r.code !== 0 && r.stderr.includes('spec.units must be odd');
    });
    expect(denied).toContain(
      'admission webhook "validating.unitsets.example.com" denied the request: spec.units must be odd for quorum',
    );

    await ok(['apply', '-f', '-'], unitSet('quorum', { units: 3 }));
    expect((await getJSON(['unitset', 'quorum'])).metadata.labels).toEqual({ team: 'blue' });

    // The webhooks go down.
    const down = `https://127.0.0.1:${await closedPort()}`;
    await ok(
      ['apply', '--server-side', '-f', '-'],
      webhookConfiguration('Mutating', '/mutate', 'Ignore', down, hooks.caBundle),
    );
    await ok(
      ['apply', '--server-side', '-f', '-'],
      webhookConfiguration('Validating', '/validate', 'Fail', down, hooks.caBundle),
    );
    let blocked = '';
    await eventually('failurePolicy Fail to block', async () => {
      const r = await kubectl(['apply', '-f', '-'], unitSet('down', { units: 1 }));
      blocked = r.stderr;
      return r.code !== 0 && r.stderr.includes('failed calling webhook');
    });
    expect(blocked).toContain('Internal error occurred: failed calling webhook "validating.unitsets.example.com"');
    expect(blocked).toContain('connection refused');

    await ok(
      ['apply', '--server-side', '-f', '-'],
      webhookConfiguration('Validating', '/validate', 'Ignore', down, hooks.caBundle),
    );
    await eventually(
      'failurePolicy Ignore to let it pass',
      async () => (await kubectl(['apply', '-f', '-'], unitSet('down', { units: 1 }))).code === 0,
    );
    expect((await getJSON(['unitset', 'down'])).metadata.labels).toBeUndefined();

    await ok(['delete', 'validatingwebhookconfiguration', 'user-validating']);
    await ok(['delete', 'mutatingwebhookconfiguration', 'user-mutating']);
  });

  it('enforces a ValidatingAdmissionPolicy with a CEL rule on spec.units: Deny denies, Warn warns', async () => {
    const policy = yaml({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: 'max-units' },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            {
              apiGroups: ['upm.io'],
              apiVersions: ['v1alpha1'],
              operations: ['CREATE', 'UPDATE'],
              resources: ['unitsets'],
            },
          ],
        },
        validations: [
          {
            expression: 'object.spec.units <= 5',
            messageExpression: '"spec.units must be at most 5, got " + string(object.spec.units)',
          },
        ],
      },
    });
    const binding = (actions: string[]) =>
      yaml({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicyBinding',
        metadata: { name: 'max-units' },
        spec: { policyName: 'max-units', validationActions: actions },
      });
    await ok(['apply', '--server-side', '-f', '-'], policy);
    await ok(['apply', '--server-side', '-f', '-'], binding(['Deny']));

    let denied = '';
    await eventually('the policy to deny', async () => {
      const r = await kubectl(['apply', '-f', '-'], unitSet('big', { units: 9 }));
      denied = r.stderr;
      return r.code !== 0;
    });
    expect(denied).toContain(
      "ValidatingAdmissionPolicy 'max-units' with binding 'max-units' denied request: spec.units must be at most 5, got 9",
    );
    await ok(['apply', '-f', '-'], unitSet('small', { units: 5 }));

    await ok(['apply', '--server-side', '--force-conflicts', '-f', '-'], binding(['Warn']));
    let warned: KubectlResult | undefined;
    await eventually('the policy to warn', async () => {
      warned = await kubectl(['apply', '-f', '-'], unitSet('big', { units: 9 }));
      return warned.code === 0;
    });
    expect(warned!.stdout).toBe('unitset.upm.io/big created\n');
    expect(warned!.stderr).toContain(
      "Warning: Validation failed for ValidatingAdmissionPolicy 'max-units' with binding 'max-units': spec.units must be at most 5, got 9",
    );

    await ok(['delete', 'validatingadmissionpolicybinding', 'max-units']);
    await ok(['delete', 'validatingadmissionpolicy', 'max-units']);
  });

  it('leaves the engine running, with no error logged but the 500s of the webhook that was down', () => {
    expect(engine.process.exitCode).toBeNull();
    const errors = engine
      .logs()
      .split('\n')
      .filter((l) => l.startsWith('{') && JSON.parse(l).level >= 50)
      .filter((l) => !l.includes('failed calling webhook \\"validating.unitsets.example.com\\"'));
    expect(errors).toEqual([]);
  });
});
