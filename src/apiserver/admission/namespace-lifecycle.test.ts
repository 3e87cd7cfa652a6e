import { StatusError } from '../../machinery/errors.js';
import type { KubeObject } from '../../machinery/object.js';
import { NamespaceLifecycle, type LifecycleRequest } from './namespace-lifecycle.js';

const ns = (name: string, phase: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name },
  status: { phase },
});
const known: Record<string, KubeObject> = { live: ns('live', 'Active'), dying: ns('dying', 'Terminating') };
const lifecycle = new NamespaceLifecycle(async (name) => known[name]);

const req = (r: Partial<LifecycleRequest>): LifecycleRequest => ({
  operation: 'CREATE',
  group: 'upm.io',
  resource: 'unitsets',
  namespace: 'live',
  name: 'a',
  ...r,
});

async function failure(r: LifecycleRequest): Promise<StatusError | undefined> {
  try {
    await lifecycle.admit(r);
    return undefined;
  } catch (err) {
    return err as StatusError;
  }
}

describe('NamespaceLifecycle', () => {
  it('admits creates in an active namespace, cluster-scoped objects and namespaces themselves', async () => {
    expect(await failure(req({}))).toBeUndefined();
    expect(await failure(req({ namespace: '', resource: 'unittemplates', name: 't' }))).toBeUndefined();
    expect(await failure(req({ group: '', resource: 'namespaces', namespace: '', name: 'new' }))).toBeUndefined();
  });

  it('answers kube’s errors for a missing or terminating namespace', async () => {
    const missing = await failure(req({ namespace: 'gone' }));
    expect(missing).toMatchObject({ code: 404, reason: 'NotFound', message: 'namespaces "gone" not found' });
    const dying = await failure(req({ namespace: 'dying', name: '' }));
    expect(dying).toMatchObject({
      code: 403,
      reason: 'Forbidden',
      message:
        'unitsets.upm.io is forbidden: unable to create new content in namespace dying because it is being terminated',
    });
    // Updates and deletes of what is already there go on in a terminating namespace.
    expect(await failure(req({ namespace: 'dying', operation: 'UPDATE' }))).toBeUndefined();
    expect(await failure(req({ namespace: 'gone', operation: 'DELETE' }))).toBeUndefined();
  });

  it('turns a failed lookup into a 500, not a NotFound', async () => {
    const broken = new NamespaceLifecycle(() => Promise.reject(new Error('connection refused')));
    await expect(broken.admit(req({}))).rejects.toMatchObject({ code: 500, reason: 'InternalError' });
  });
});
