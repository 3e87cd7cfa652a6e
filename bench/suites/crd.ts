// upm.io against the peer a user would pick instead: a CustomResourceDefinition with UnitSet's
// schema, served by a real kube-apiserver (v1.34, test/cluster) on its etcd. Both are measured in
// one run through the same kube-apiserver, as a user reaches them: upm.io through the aggregator
// (kube-apiserver proxies to `upm-engine apiserver`, SQLite), the CRD by kube-apiserver itself.
// Rows: GET, LIST 100, LIST 10k, creates/s, updates/s and 1,000-watcher fan-out; the value is
// upm.io's, the reference the CRD's.

import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { parse as parseYAML } from 'yaml';
import { unitSetDefinition } from '../../src/api/unitset.js';
import { crdOf } from '../../test/cluster/crd.js';
import { startRealCluster, type RealCluster } from '../../test/cluster/cluster.js';
import { LoadWorker } from '../lib/client.js';
import type { DeliveredEvent, Target } from '../lib/protocol.js';
import { sleep, summarize, wallNow } from '../lib/stats.js';
import { row, type Preset, type Row, type Suite } from '../lib/types.js';
import { unitSetBody } from '../lib/fixtures.js';

type Obj = Record<string, any>;
const crdGroup = 'crd.upm.io';

function targetOf(kubeconfig: string): Target {
  const kc = parseYAML(readFileSync(kubeconfig, 'utf8')) as Obj;
  const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
  const cluster = kc['clusters'][0]['cluster'];
  const user = kc['users'][0]['user'];
  return {
    origin: cluster['server'],
    ca: b64(cluster['certificate-authority-data']),
    cert: b64(user['client-certificate-data']),
    key: b64(user['client-key-data']),
  };
}

interface Api {
  name: string;
  group: string;
}

const base = (api: Api, ns: string) => `/apis/${api.group}/v1alpha1/namespaces/${ns}/unitsets`;
const body = (api: Api, name: string) => ({ ...unitSetBody(name), apiVersion: `${api.group}/v1alpha1` });

async function call(target: Target, method: string, path: string, payload?: unknown): Promise<Obj> {
  const res = await fetchWithCerts(target, method, path, payload);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
  return res.body;
}

// node's fetch cannot present client certificates; node:https can.
async function fetchWithCerts(t: Target, method: string, path: string, payload?: unknown) {
  const data = payload === undefined ? undefined : Buffer.from(JSON.stringify(payload));
  return new Promise<{ status: number; body: Obj }>((resolve, reject) => {
    const req = httpsRequest(
      new URL(path, t.origin),
      {
        method,
        ca: t.ca,
        cert: t.cert,
        key: t.key,
        headers: { Accept: 'application/json', ...(data ? { 'Content-Type': 'application/json' } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Obj) : {} });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function fill(target: Target, api: Api, ns: string, n: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < n) {
        const i = next++;
        await call(target, 'POST', base(api, ns), body(api, `item-${i}`));
      }
    }),
  );
}

interface Figures {
  get: number;
  list100: number;
  list10kMs: number;
  creates: number;
  updates: number;
  watchLastP50: number;
}

async function measure(
  worker: LoadWorker,
  target: Target,
  api: Api,
  preset: Preset,
  log: (m: string) => void,
): Promise<Figures> {
  const ns = (s: string) => `bench-${api.name}-${s}`;
  const timing = { warmupMs: preset.warmupMs, durationMs: preset.durationMs };
  await call(target, 'POST', base(api, ns('get')), body(api, 'get-0'));
  const get = await worker.run({
    kind: 'requests',
    target,
    concurrency: preset.concurrency,
    ...timing,
    scenario: { type: 'fixed', method: 'GET', path: `${base(api, ns('get'))}/get-0` },
  });
  await fill(target, api, ns('list'), 100);
  const list100 = await worker.run({
    kind: 'requests',
    target,
    concurrency: 8,
    ...timing,
    scenario: { type: 'fixed', method: 'GET', path: base(api, ns('list')) },
  });
  const creates = await worker.run({
    kind: 'requests',
    target,
    concurrency: preset.concurrency,
    ...timing,
    scenario: { type: 'create', path: base(api, ns('create')), body: body(api, 'x'), namePrefix: 'c-' },
  });
  const objects: { path: string; body: Record<string, unknown> }[] = [];
  for (let i = 0; i < preset.concurrency; i++) {
    const o = await call(target, 'POST', base(api, ns('update')), body(api, `u-${i}`));
    objects.push({ path: `${base(api, ns('update'))}/u-${i}`, body: o });
  }
  const updates = await worker.run({
    kind: 'requests',
    target,
    concurrency: preset.concurrency,
    ...timing,
    scenario: { type: 'update', objects },
  });
  log(`crd: ${api.name}: filling ${preset.bigListItems} objects for LIST 10k`);
  await fill(target, api, ns('big'), preset.bigListItems);
  const big = await worker.run({
    kind: 'requests',
    target,
    concurrency: 1,
    warmupCount: 1,
    count: preset.bigListIterations,
    scenario: { type: 'fixed', method: 'GET', path: base(api, ns('big')) },
  });
  const watchLastP50 = await watchFanOut(worker, target, api, ns('watch'), preset.watchers, preset.watchWrites);
  for (const r of [get, list100, creates, updates, big])
    if (r.errors > 0) throw new Error(`${api.name}: ${r.errors} errors, first: ${r.firstError}`);
  return {
    get: get.throughput,
    list100: list100.throughput,
    list10kMs: big.latency.p50,
    creates: creates.throughput,
    updates: updates.throughput,
    watchLastP50,
  };
}

/** Time from sending a PUT to its event reaching the last of `watchers` watches (p50). */
async function watchFanOut(
  worker: LoadWorker,
  target: Target,
  api: Api,
  ns: string,
  watchers: number,
  writes: number,
): Promise<number> {
  let obj = await call(target, 'POST', base(api, ns), body(api, 'watched'));
  const delivered = new Map<number, DeliveredEvent>();
  const onDelivered = (ev: DeliveredEvent) => delivered.set(ev.index, ev);
  worker.on('delivered', onDelivered);
  try {
    await worker.run({
      kind: 'watch-open',
      target,
      path: `${base(api, ns)}?watch=1&resourceVersion=${obj['metadata'].resourceVersion}&timeoutSeconds=1800`,
      count: watchers,
      openConcurrency: 50,
    });
    await sleep(1000);
    const samples: number[] = [];
    for (let i = 0; i < writes + 3; i++) {
      const sent = wallNow();
      obj = await call(target, 'PUT', `${base(api, ns)}/watched`, {
        ...obj,
        metadata: { ...obj['metadata'], annotations: { seq: String(i) } },
      });
      const deadline = Date.now() + 60_000;
      while (!delivered.has(i)) {
        if (Date.now() > deadline) throw new Error(`${api.name}: event ${i} did not reach all watchers`);
        await sleep(2);
      }
      if (i >= 3) samples.push(delivered.get(i)!.last - sent);
      await sleep(20);
    }
    await worker.run({ kind: 'watch-close' });
    return summarize(samples).p50;
  } finally {
    worker.off('delivered', onDelivered);
  }
}

export const crdSuite: Suite = {
  name: 'crd',
  scope: 'global',
  async run({ preset, log }) {
    let cluster: RealCluster | undefined;
    const worker = new LoadWorker();
    try {
      log('crd: starting a real control plane (kube-apiserver v1.34, etcd) with upm-engine apiserver behind it');
      cluster = await startRealCluster();
      const crd = crdOf(unitSetDefinition, crdGroup);
      const ok = async (args: string[], input?: string) => {
        const r = await cluster!.kubectl('1.33', args, input === undefined ? {} : { input });
        if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
      };
      await ok(['apply', '--server-side', '-f', '-'], JSON.stringify(crd));
      await ok(['wait', '--for=condition=Established', `crd/${crd['metadata'].name}`, '--timeout=60s']);
      const apis: Api[] = [
        { name: 'upm', group: 'upm.io' },
        { name: 'crd', group: crdGroup },
      ];
      for (const api of apis)
        for (const s of ['get', 'list', 'create', 'update', 'big', 'watch'])
          await ok(['create', 'namespace', `bench-${api.name}-${s}`]);
      const target = targetOf(cluster.kubeconfig);
      const [upm, peer] = [
        await measure(worker, target, apis[0]!, preset, log),
        await measure(worker, target, apis[1]!, preset, log),
      ];
      const ref = 'CRD, same schema, kube-apiserver';
      const n = preset.watchers.toLocaleString('en-US');
      const note = 'both through kube-apiserver v1.34: upm.io via its aggregator (SQLite), the CRD on etcd';
      const rows: Row[] = [
        row('crd', null, 'GET UnitSet via kube-apiserver', upm.get, 'req/s', ref, peer.get, note),
        row('crd', null, 'LIST 100 UnitSets via kube-apiserver', upm.list100, 'req/s', ref, peer.list100, note),
        row(
          'crd',
          null,
          `LIST ${preset.bigListItems.toLocaleString('en-US')} UnitSets via kube-apiserver p50`,
          upm.list10kMs,
          'ms',
          ref,
          peer.list10kMs,
          note,
        ),
        row('crd', null, 'create UnitSet via kube-apiserver', upm.creates, 'req/s', ref, peer.creates, note),
        row('crd', null, 'update UnitSet via kube-apiserver', upm.updates, 'req/s', ref, peer.updates, note),
        row(
          'crd',
          null,
          `watch ${n} watchers via kube-apiserver: PUT sent → last delivery p50`,
          upm.watchLastP50,
          'ms',
          ref,
          peer.watchLastP50,
          note,
        ),
      ];
      return rows;
    } finally {
      await worker.terminate();
      await cluster?.stop();
    }
  },
};
