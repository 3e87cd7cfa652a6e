// End-to-end: the real kubectl binaries (oldest and newest supported) against `upm-engine local`,
// asserting what a user sees on the terminal. A second block checks that `npm start -- --data-dir
// DIR --port N` passes the flags through, so two instances run side by side.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYAML } from 'yaml';
import {
  controlPlanes,
  freePort,
  kubectlBinary,
  type KubectlResult,
  type KubectlTarget,
  startControlPlane,
  waitFor,
} from './harness.js';

// jest.config.js sets a 60 s timeout per test and hook (in ESM mode the `jest` global, and so
// jest.setTimeout, does not exist); the npm start hooks pass longer ones.

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
const fixture = (name: string) => readFileSync(join(here, 'fixtures', name), 'utf8');

type Obj = Record<string, any>;

/** A UnitSet manifest (JSON, which kubectl reads like YAML). */
function unitSet(name: string, spec: Obj, metadata: Obj = {}): string {
  return JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'UnitSet', metadata: { name, ...metadata }, spec });
}

/**
 * Parses a kubectl table: the header's words give the column starts (kubectl left-aligns values
 * under their header), so empty cells (READY before any status) come out as ''.
 */
function table(stdout: string): Record<string, string>[] {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return [];
  const columns = [...lines[0].matchAll(/\S+/g)].map((m) => ({ name: m[0], start: m.index }));
  return lines
    .slice(1)
    .map((line) =>
      Object.fromEntries(
        columns.map((c, i) => [
          c.name,
          line.slice(c.start, i + 1 < columns.length ? columns[i + 1].start : undefined).trim(),
        ]),
      ),
    );
}

const namespaceManifest = (name: string) => JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });

const header = (stdout: string) => stdout.split('\n')[0].trim().split(/\s+/);

const UPM_KINDS = [
  { NAME: 'mysqlreplications', SHORTNAMES: 'mr', NAMESPACED: 'true', KIND: 'MysqlReplication' },
  { NAME: 'proxysqlsyncs', SHORTNAMES: 'ps', NAMESPACED: 'true', KIND: 'ProxysqlSync' },
  { NAME: 'redisclusters', SHORTNAMES: 'rcc', NAMESPACED: 'true', KIND: 'RedisCluster' },
  { NAME: 'redisreplications', SHORTNAMES: 'rr', NAMESPACED: 'true', KIND: 'RedisReplication' },
  { NAME: 'sidecarsets', SHORTNAMES: 'sds', NAMESPACED: 'false', KIND: 'SidecarSet' },
  { NAME: 'units', SHORTNAMES: 'un', NAMESPACED: 'true', KIND: 'Unit' },
  { NAME: 'unitsets', SHORTNAMES: 'us', NAMESPACED: 'true', KIND: 'UnitSet' },
  { NAME: 'unittemplates', SHORTNAMES: 'ut', NAMESPACED: 'false', KIND: 'UnitTemplate' },
];

// One engine per kubectl version; the tests of a version run in order and build on each other's
// objects (db, orders and cache in default, anchor in watched, elsewhere in other).
const matrix = controlPlanes().flatMap((plane) => ['1.27', '1.33'].map((version) => [version, plane] as const));

describe.each(matrix)('kubectl %s against the %s control plane', (version, plane) => {
  let engine: KubectlTarget | undefined;

  beforeAll(async () => {
    engine = await startControlPlane(plane);
  }, 240_000);

  afterAll(async () => {
    await engine?.stop();
  }, 60_000);

  const run = (args: string[], input?: string): Promise<KubectlResult> =>
    engine!.kubectl(version, args, input === undefined ? {} : { input });

  /** Runs kubectl, asserts it succeeded and returns its stdout. */
  async function ok(args: string[], input?: string): Promise<string> {
    const r = await run(args, input);
    if (r.code !== 0)
      throw new Error(`kubectl ${args.join(' ')} exited with ${r.code}\nstderr: ${r.stderr}\nstdout: ${r.stdout}`);
    return r.stdout;
  }

  /** Runs kubectl, asserts it failed and returns its stderr. */
  async function fails(args: string[], input?: string): Promise<string> {
    const r = await run(args, input);
    if (r.code === 0)
      throw new Error(`kubectl ${args.join(' ')} succeeded but should have failed\nstdout: ${r.stdout}`);
    return r.stderr;
  }

  const getJSON = async (args: string[]): Promise<Obj> => JSON.parse(await ok(['get', ...args, '-o', 'json'])) as Obj;

  describe('discovery and schema', () => {
    it('api-resources lists the eight upm.io kinds with short names, scope and kind', async () => {
      const rows = table(await ok(['api-resources', '--api-group=upm.io']));
      expect(
        rows.map(({ NAME, SHORTNAMES, APIVERSION, NAMESPACED, KIND }) => ({
          NAME,
          SHORTNAMES,
          APIVERSION,
          NAMESPACED,
          KIND,
        })),
      ).toEqual(UPM_KINDS.map((k) => ({ ...k, APIVERSION: 'upm.io/v1alpha1' })));
    });

    it('api-resources -o wide shows the verbs and the upm category', async () => {
      const rows = table(await ok(['api-resources', '--api-group=upm.io', '-o', 'wide']));
      expect(rows.map((r) => r['NAME'])).toEqual(UPM_KINDS.map((k) => k.NAME));
      for (const row of rows) {
        expect(row['VERBS']).toBe('create,delete,deletecollection,get,list,patch,update,watch');
        expect(row['CATEGORIES']).toBe('upm');
      }
    });

    it('explain unitset.spec documents the fields', async () => {
      const out = await ok(['explain', 'unitset.spec']);
      expect(out).toMatch(/^KIND:\s+UnitSet$/m);
      expect(out).toContain('Desired state of a UnitSet.');
      expect(out).toMatch(/^ {2}units\t<integer> -required-\n {4}Desired number of Units\./m);
      expect(out).toMatch(/^ {2}type\t<string> -required-\n {4}Service type, for example mysql/m);
      expect(out).toMatch(/^ {2}version\t<string> -required-\n {4}Full version of the service/m);
      expect(out).toMatch(/^ {2}edition\t<string>\n {4}Edition of the service/m);
      expect(out).toMatch(/^ {2}storage\t<Object>$/m);
    });

    it('explain unitset.spec.storage (nested) documents the nested fields', async () => {
      const out = await ok(['explain', 'unitset.spec.storage']);
      expect(out).toMatch(/^FIELD:\s+storage <Object>$/m);
      expect(out).toContain('Persistent storage of the Units.');
      expect(out).toMatch(/^ {2}volumes\t<\[\]Object>\n {4}Per-volume size and class/m);
      expect(out).toMatch(/^ {2}persistentVolumeClaimRetentionPolicy\t<Object>$/m);
    });

    it('explain of an unknown field fails', async () => {
      expect(await fails(['explain', 'unitset.spec.nope'])).toContain('field "nope" does not exist');
    });
  });

  describe('create, apply and get', () => {
    it('create -f creates a UnitSet that only sets type, version and units', async () => {
      expect(await ok(['create', '-f', '-'], fixture('unitset-db.yaml'))).toBe('unitset.upm.io/db created\n');
      expect(
        await ok(
          ['create', '-f', '-'],
          unitSet('orders', { type: 'mysql', version: '8.0.36', units: 2 }, { labels: { app: 'shop' } }),
        ),
      ).toBe('unitset.upm.io/orders created\n');
      expect(
        await ok(
          ['create', '-f', '-'],
          unitSet('cache', { type: 'redis', version: '7.2.4', units: 3 }, { labels: { app: 'cache' } }),
        ),
      ).toBe('unitset.upm.io/cache created\n');
      expect(await fails(['create', '-f', '-'], fixture('unitset-db.yaml'))).toContain(
        'Error from server (AlreadyExists): error when creating "STDIN": unitsets.upm.io "db" already exists',
      );
    });

    it('apply -f of a modified manifest updates it and records last-applied-configuration', async () => {
      const modified = fixture('unitset-db.yaml').replace('units: 1', 'units: 3');
      expect(modified).not.toEqual(fixture('unitset-db.yaml'));
      expect(await ok(['apply', '-f', '-'], modified)).toBe('unitset.upm.io/db configured\n');
      const db = await getJSON(['us', 'db']);
      expect(db['spec']['units']).toBe(3);
      expect(db['metadata']['generation']).toBe(2);
      const lastApplied = JSON.parse(
        db['metadata']['annotations']['kubectl.kubernetes.io/last-applied-configuration'],
      ) as Obj;
      expect(lastApplied['spec']).toEqual({ type: 'mysql', version: '8.0.36', units: 3 });
      expect(await ok(['apply', '-f', '-'], modified)).toBe('unitset.upm.io/db unchanged\n');
      expect((await getJSON(['us', 'db']))['metadata']['resourceVersion']).toBe(db['metadata']['resourceVersion']);
    });

    it('get us prints the printer columns and a relative age', async () => {
      const out = await ok(['get', 'us']);
      expect(header(out)).toEqual(['NAME', 'TYPE', 'VERSION', 'UNITS', 'READY', 'STATUS', 'AGE']);
      const rows = table(out);
      expect(rows.map((r) => r['NAME'])).toEqual(['cache', 'db', 'orders']);
      expect(rows[1]).toMatchObject({ NAME: 'db', TYPE: 'mysql', VERSION: '8.0.36', UNITS: '3', READY: '' });
      for (const row of rows) expect(row['AGE']).toMatch(/^\d+s$/);
    });

    it('get us -o wide adds EDITION, UPDATED and TEMPLATE', async () => {
      const out = await ok(['get', 'us', '-o', 'wide']);
      expect(header(out)).toEqual([
        'NAME',
        'TYPE',
        'EDITION',
        'VERSION',
        'UNITS',
        'READY',
        'UPDATED',
        'STATUS',
        'TEMPLATE',
        'AGE',
      ]);
      expect(table(out).find((r) => r['NAME'] === 'cache')).toMatchObject({
        TYPE: 'redis',
        EDITION: 'community',
        VERSION: '7.2.4',
        UNITS: '3',
        TEMPLATE: 'redis-community-7.2.4',
      });
    });

    it('get us x -o yaml shows server-set metadata and defaults', async () => {
      const out = await ok(['get', 'us', 'orders', '-o', 'yaml']);
      expect(out).toMatch(/^ {2}generation: 1$/m);
      expect(out).toMatch(/^ {2}edition: community$/m);
      expect(out).toMatch(/^ {2}template: mysql-community-8\.0\.36$/m);
      const obj = parseYAML(out) as Obj;
      expect(obj['apiVersion']).toBe('upm.io/v1alpha1');
      expect(obj['kind']).toBe('UnitSet');
      expect(obj['metadata']).toMatchObject({
        name: 'orders',
        namespace: 'default',
        generation: 1,
        labels: { app: 'shop' },
      });
      expect(obj['metadata']['uid']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(obj['metadata']['resourceVersion']).toMatch(/^[1-9][0-9]*$/);
      expect(obj['metadata']['creationTimestamp']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(obj['spec']).toMatchObject({
        type: 'mysql',
        version: '8.0.36',
        units: 2,
        edition: 'community',
        template: 'mysql-community-8.0.36',
      });
    });

    it('get -o jsonpath prints a single field', async () => {
      expect(await ok(['get', 'us', 'orders', '-o', 'jsonpath={.spec.units}'])).toBe('2');
      expect(await ok(['get', 'us', '-o', 'jsonpath={.items[*].metadata.name}'])).toBe('cache db orders');
    });

    it('-l and --field-selector filter the list', async () => {
      const names = async (args: string[]) => ok(['get', 'us', ...args, '-o', 'jsonpath={.items[*].metadata.name}']);
      expect(await names(['-l', 'app=shop'])).toBe('db orders');
      expect(await names(['-l', 'app=cache'])).toBe('cache');
      expect(await names(['-l', 'app!=shop'])).toBe('cache');
      expect(await names(['--field-selector', 'metadata.name=orders'])).toBe('orders');
      expect(await names(['--field-selector', 'metadata.name!=orders'])).toBe('cache db');
      expect(await names(['--field-selector', 'spec.type=redis'])).toBe('cache');
      const r = await run(['get', 'us', '-l', 'app=nothing']);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('No resources found in default namespace.');
    });

    it('get upm lists the objects of the category', async () => {
      const out = await ok(['get', 'upm']);
      expect(out).toContain('unitset.upm.io/cache');
      expect(out).toContain('unitset.upm.io/db');
      expect(out).toContain('unitset.upm.io/orders');
    });

    it('describe us x prints name, namespace, labels and spec', async () => {
      const out = await ok(['describe', 'us', 'db']);
      expect(out).toMatch(/^Name:\s+db$/m);
      expect(out).toMatch(/^Namespace:\s+default$/m);
      expect(out).toMatch(/^Labels:\s+app=shop$/m);
      expect(out).toMatch(/^Kind:\s+UnitSet$/m);
      expect(out).toMatch(/^Spec:$/m);
      expect(out).toMatch(/^ {2}Type:\s+mysql$/m);
      expect(out).toMatch(/^ {2}Units:\s+3$/m);
      expect(out).toMatch(/^ {2}Template:\s+mysql-community-8\.0\.36$/m);
    });
  });

  describe('watch', () => {
    let watcher: ChildProcess | undefined;
    afterEach(() => {
      watcher?.kill('SIGKILL');
    });

    it('get us -w reports ADDED, MODIFIED and DELETED for changes made by another kubectl', async () => {
      await ok(['create', '-f', '-'], namespaceManifest('watched'));
      await ok(
        ['create', '-n', 'watched', '-f', '-'],
        unitSet('anchor', { type: 'redis', version: '7.2.4', units: 1 }),
      );
      const child = spawn(
        kubectlBinary(version),
        [
          '--kubeconfig',
          engine!.kubeconfig,
          '--cache-dir',
          engine!.cacheDir,
          '-n',
          'watched',
          'get',
          'us',
          '-w',
          '--output-watch-events',
          '-o',
          'jsonpath={.type} {.object.metadata.name} {.object.spec.units}{"\\n"}',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      watcher = child;
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const lines = () => stdout.split('\n').filter((l) => l !== '');
      // The initial list arrives as ADDED; the watch then starts from the list's resourceVersion.
      await waitFor(`the initial ADDED event (stderr: ${stderr})`, () => lines().length >= 1, 10_000);
      expect(lines()).toEqual(['ADDED anchor 1']);

      await ok(['create', '-n', 'watched', '-f', '-'], unitSet('w', { type: 'redis', version: '7.2.4', units: 1 }));
      await ok(['patch', '-n', 'watched', 'us', 'w', '--type=merge', '-p', '{"spec":{"units":2}}']);
      await ok(['delete', '-n', 'watched', 'us', 'w']);
      await waitFor('the DELETED event', () => lines().some((l) => l.startsWith('DELETED')), 10_000);
      expect(lines()).toEqual(['ADDED anchor 1', 'ADDED w 1', 'MODIFIED w 2', 'DELETED w 2']);
      expect(child.exitCode).toBeNull(); // still watching
    });
  });

  describe('label, annotate, patch, status and scale', () => {
    const jsonpath = (path: string) => ok(['get', 'us', 'pt', '-o', `jsonpath=${path}`]);

    beforeAll(async () => {
      await ok(['create', '-f', '-'], unitSet('pt', { type: 'mysql', version: '8.0.36', units: 3 }));
    });

    it('label and annotate change metadata, not the generation', async () => {
      expect(await ok(['label', 'us', 'pt', 'tier=gold'])).toBe('unitset.upm.io/pt labeled\n');
      // kubectl 1.27 prints "annotate", later versions "annotated".
      expect(await ok(['annotate', 'us', 'pt', 'owner=team-a'])).toMatch(/^unitset\.upm\.io\/pt annotated?\n$/);
      expect(await jsonpath('{.metadata.labels.tier} {.metadata.annotations.owner} {.metadata.generation}')).toBe(
        'gold team-a 1',
      );
      expect(await ok(['get', 'us', '-l', 'tier=gold', '-o', 'name'])).toBe('unitset.upm.io/pt\n');
    });

    it('patch --type=merge of the spec bumps the generation', async () => {
      expect(await ok(['patch', 'us', 'pt', '--type=merge', '-p', '{"spec":{"units":4}}'])).toBe(
        'unitset.upm.io/pt patched\n',
      );
      expect(await jsonpath('{.spec.units} {.metadata.generation}')).toBe('4 2');
    });

    it('status is ignored by the main resource', async () => {
      await ok(['patch', 'us', 'pt', '--type=merge', '-p', '{"status":{"readyUnits":9}}']);
      expect(await jsonpath('{.status.readyUnits}')).toBe('');
    });

    it('patch --subresource=status changes the status, not the spec or the generation', async () => {
      expect(
        await ok([
          'patch',
          'us',
          'pt',
          '--subresource=status',
          '--type=merge',
          '-p',
          '{"spec":{"units":9},"status":{"readyUnits":2}}',
        ]),
      ).toBe('unitset.upm.io/pt patched\n');
      expect(await jsonpath('{.status.readyUnits} {.spec.units} {.metadata.generation}')).toBe('2 4 2');
      expect(table(await ok(['get', 'us', 'pt']))[0]).toMatchObject({ UNITS: '4', READY: '2' });
    });

    it('scale us/x --replicas sets spec.units through the scale subresource', async () => {
      expect(await ok(['scale', 'us/pt', '--replicas=5'])).toBe('unitset.upm.io/pt scaled\n');
      expect(await jsonpath('{.spec.units} {.metadata.generation}')).toBe('5 3');
      const scale = JSON.parse(
        await ok(['get', '--raw', '/apis/upm.io/v1alpha1/namespaces/default/unitsets/pt/scale']),
      ) as Obj;
      expect(scale).toMatchObject({
        kind: 'Scale',
        apiVersion: 'autoscaling/v1',
        spec: { replicas: 5 },
        status: { selector: 'upm.io/unitset=pt' },
      });
    });
  });

  describe('delete', () => {
    it('an object with a finalizer stays until the finalizer is removed', async () => {
      await ok(
        ['create', '-f', '-'],
        unitSet('held', { type: 'redis', version: '7.2.4', units: 1 }, { finalizers: ['test.upm.io/hold'] }),
      );
      expect(await ok(['delete', 'us', 'held', '--wait=false'])).toBe('unitset.upm.io "held" deleted\n');
      const held = await getJSON(['us', 'held']);
      expect(held['metadata']['deletionTimestamp']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(held['metadata']['finalizers']).toEqual(['test.upm.io/hold']);
      expect(table(await ok(['get', 'us', 'held']))[0]?.['NAME']).toBe('held');

      expect(await ok(['patch', 'us', 'held', '--type=merge', '-p', '{"metadata":{"finalizers":null}}'])).toBe(
        'unitset.upm.io/held patched\n',
      );
      const r = await run(['get', 'us', 'held']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('Error from server (NotFound): unitsets.upm.io "held" not found\n');
    });

    it('delete without finalizers removes the object', async () => {
      await ok(['create', '-f', '-'], unitSet('gone', { type: 'redis', version: '7.2.4', units: 1 }));
      expect(await ok(['delete', 'us', 'gone'])).toBe('unitset.upm.io "gone" deleted\n');
      expect(await fails(['get', 'us', 'gone'])).toContain('Error from server (NotFound)');
      expect(await fails(['delete', 'us', 'gone'])).toContain(
        'Error from server (NotFound): unitsets.upm.io "gone" not found',
      );
    });
  });

  describe('validation and conflicts', () => {
    it('rejects a negative units count, naming the field', async () => {
      // -v=6 logs each request with its response status (the format differs between versions).
      const stderr = await fails(
        ['create', '-v=6', '-f', '-'],
        unitSet('bad', { type: 'mysql', version: '8.0.36', units: -1 }),
      );
      expect(stderr).toMatch(
        /POST"? (url=")?https:\/\/\S+\/apis\/upm\.io\/v1alpha1\/namespaces\/default\/unitsets\?\S*fieldValidation=Strict.*422 Unprocessable Entity/,
      );
      expect(stderr).toContain('The UnitSet "bad" is invalid');
      expect(stderr).toContain('spec.units: Invalid value: -1');
      expect(stderr).toContain('greater than or equal to 0');
      expect(await fails(['get', 'us', 'bad'])).toContain('NotFound');
    });

    it('rejects a missing spec.type', async () => {
      const stderr = await fails(['create', '-f', '-'], unitSet('bad', { version: '8.0.36', units: 1 }));
      expect(stderr).toContain('The UnitSet "bad" is invalid');
      expect(stderr).toContain('spec.type: Required value');
    });

    it('rejects an unknown field (kubectl asks for strict field validation)', async () => {
      const stderr = await fails(
        ['create', '-f', '-'],
        unitSet('bad', { type: 'mysql', version: '8.0.36', units: 1, bogus: true }),
      );
      expect(stderr).toContain('unknown field "spec.bogus"');
    });

    it('rejects an invalid patch, naming the field', async () => {
      const stderr = await fails(['patch', 'us', 'orders', '--type=merge', '-p', '{"spec":{"units":-3}}']);
      expect(stderr).toContain('is invalid');
      expect(stderr).toContain('spec.units');
      expect(await ok(['get', 'us', 'orders', '-o', 'jsonpath={.spec.units}'])).toBe('2');
    });

    it('rejects a replace carrying a stale resourceVersion with 409 Conflict', async () => {
      const stale = await getJSON(['us', 'orders']);
      stale['spec']['units'] = 7;
      await ok(['patch', 'us', 'orders', '--type=merge', '-p', '{"spec":{"units":6}}']);
      const stderr = await fails(['replace', '-v=6', '-f', '-'], JSON.stringify(stale));
      expect(stderr).toMatch(
        /PUT"? (url=")?https:\/\/\S+\/apis\/upm\.io\/v1alpha1\/namespaces\/default\/unitsets\/orders\S* .*409 Conflict/,
      );
      expect(stderr).toContain('Error from server (Conflict)');
      expect(stderr).toContain('the object has been modified');
      expect(await ok(['get', 'us', 'orders', '-o', 'jsonpath={.spec.units}'])).toBe('6');

      // With the current resourceVersion the same replace goes through.
      const fresh = await getJSON(['us', 'orders']);
      fresh['spec']['units'] = 7;
      expect(await ok(['replace', '-f', '-'], JSON.stringify(fresh))).toBe('unitset.upm.io/orders replaced\n');
      expect(await ok(['get', 'us', 'orders', '-o', 'jsonpath={.spec.units}'])).toBe('7');
    });
  });

  describe('scopes', () => {
    it('unittemplates are cluster-scoped and a minimal one can be created', async () => {
      const empty = await run(['get', 'unittemplates']);
      expect(empty.code).toBe(0);
      expect(empty.stdout).toBe('');
      expect(empty.stderr).toContain('No resources found');

      expect(await ok(['create', '-f', '-'], fixture('unittemplate-minimal.yaml'))).toBe(
        'unittemplate.upm.io/mysql-community-8.0.36 created\n',
      );
      const out = await ok(['get', 'unittemplates']);
      expect(header(out)).toEqual(['NAME', 'TYPE', 'EDITION', 'VERSION', 'VALID', 'AGE']);
      expect(table(out)).toEqual([
        {
          NAME: 'mysql-community-8.0.36',
          TYPE: 'mysql',
          EDITION: 'community',
          VERSION: '8.0.36',
          VALID: '',
          AGE: expect.stringMatching(/^\d+s$/),
        },
      ]);
      const ut = await getJSON(['ut', 'mysql-community-8.0.36']);
      expect(ut['metadata']['namespace']).toBeUndefined();
      expect(ut['spec']['podTemplate']['spec']['containers']).toEqual([{ name: 'mysql', image: 'mysql:8.0.36' }]);
      // A namespace flag does not matter for a cluster-scoped kind.
      expect(await ok(['get', 'ut', '-n', 'other', '-o', 'name'])).toBe('unittemplate.upm.io/mysql-community-8.0.36\n');
    });

    it('namespaced kinds live in their namespace and get -A lists all namespaces', async () => {
      await ok(['create', '-f', '-'], namespaceManifest('other'));
      expect(
        await ok(
          ['create', '-n', 'other', '-f', '-'],
          unitSet('elsewhere', { type: 'redis', version: '7.2.4', units: 1 }),
        ),
      ).toBe('unitset.upm.io/elsewhere created\n');
      expect(await ok(['get', 'us', '-n', 'other', '-o', 'jsonpath={.items[*].metadata.name}'])).toBe('elsewhere');
      expect(await ok(['get', 'us', '-o', 'jsonpath={.items[*].metadata.name}'])).not.toContain('elsewhere');
      expect(await fails(['get', 'us', 'elsewhere'])).toContain('Error from server (NotFound)');

      const out = await ok(['get', 'us', '-A']);
      expect(header(out).slice(0, 2)).toEqual(['NAMESPACE', 'NAME']);
      const rows = table(out).map((r) => `${r['NAMESPACE']}/${r['NAME']}`);
      expect(rows).toEqual(
        expect.arrayContaining(['default/db', 'default/orders', 'other/elsewhere', 'watched/anchor']),
      );
      expect(new Set(table(out).map((r) => r['NAMESPACE']))).toEqual(new Set(['default', 'other', 'watched']));
    });
  });
});

// ---------------------------------------------------------------------------------------------

function portIsFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const server = createServer();
    server.once('error', () => res(false));
    server.listen(port, '127.0.0.1', () => server.close(() => res(true)));
  });
}

interface NpmInstance {
  dataDir: string;
  cacheDir: string;
  port: number;
  child: ChildProcess;
  url?: string;
  output: string;
}

/** Runs kubectl 1.33 against the kubeconfig an instance wrote into its data directory. */
function kubectlAt(instance: NpmInstance, args: string[], input = ''): Promise<KubectlResult> {
  return new Promise((res) => {
    const p = execFile(
      kubectlBinary('1.33'),
      ['--kubeconfig', join(instance.dataDir, 'kubeconfig'), '--cache-dir', instance.cacheDir, ...args],
      { timeout: 30_000 },
      (err, stdout, stderr) => res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
    p.stdin!.end(input);
  });
}

/** `npm start --silent -- --data-dir DIR --port N` in its own process group (npm forks node). */
async function npmStart(port: number): Promise<NpmInstance> {
  const instance: NpmInstance = {
    dataDir: mkdtempSync(join(tmpdir(), 'upm-npm-start-')),
    cacheDir: mkdtempSync(join(tmpdir(), 'upm-kubectl-cache-')),
    port,
    output: '',
    child: undefined as unknown as ChildProcess,
  };
  // --ignore-scripts skips `prestart` (a rebuild of dist/, which other e2e files are running
  // from at the same time); `npm start` itself and its flag pass-through are what is tested.
  const child = spawn(
    'npm',
    ['start', '--silent', '--ignore-scripts', '--', '--data-dir', instance.dataDir, '--port', String(port)],
    {
      cwd: repoRoot,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  instance.child = child;
  child.stdout!.on('data', (d: Buffer) => (instance.output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (instance.output += d.toString()));
  const tail = () => instance.output.slice(-4000);
  const serving = new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`npm start did not serve within 90 s:\n${tail()}`)), 90_000);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      rej(new Error(`npm start exited with ${code} before serving:\n${tail()}`));
    };
    child.once('exit', onExit);
    child.stdout!.on('data', function check() {
      const m = /UPM Engine is serving at (https:\/\/\S+)/.exec(instance.output);
      if (!m) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stdout!.off('data', check);
      res(m[1]);
    });
  });
  try {
    instance.url = await serving;
  } catch (err) {
    await npmStop(instance);
    removeDirs(instance);
    throw err;
  }
  return instance;
}

function removeDirs(instance: NpmInstance): void {
  rmSync(instance.dataDir, { recursive: true, force: true });
  rmSync(instance.cacheDir, { recursive: true, force: true });
}

async function npmStop(instance: NpmInstance): Promise<void> {
  const { child } = instance;
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 10_000);
    await exited;
    clearTimeout(timer);
  }
}

describe('npm start -- --data-dir DIR --port N', () => {
  const instances: NpmInstance[] = [];

  beforeAll(async () => {
    // One after the other: each `npm start` runs the prestart build, and two concurrent tsc runs
    // would write dist/ under each other's feet.
    for (let i = 0; i < 2; i++) instances.push(await npmStart(await freePort()));
  }, 180_000);

  afterAll(async () => {
    for (const instance of instances) {
      await npmStop(instance);
      removeDirs(instance);
    }
  }, 30_000);

  it('passes --port and --data-dir through to the engine', () => {
    expect(instances).toHaveLength(2);
    for (const instance of instances) {
      expect(instance.url).toBe(`https://127.0.0.1:${instance.port}`);
      expect(existsSync(join(instance.dataDir, 'kubeconfig'))).toBe(true);
      expect(existsSync(join(instance.dataDir, 'upm.db'))).toBe(true);
      expect(readFileSync(join(instance.dataDir, 'kubeconfig'), 'utf8')).toContain(
        `server: https://127.0.0.1:${instance.port}`,
      );
    }
    expect(instances[0].port).not.toBe(instances[1].port);
  });

  it('serves kubectl on each instance, each with its own data', async () => {
    const [a, b] = instances;
    for (const instance of instances) {
      const r = await kubectlAt(instance, ['get', 'us']);
      expect(r).toMatchObject({ code: 0, stdout: '' });
      expect(r.stderr).toContain('No resources found in default namespace.');
    }
    const created = await kubectlAt(
      a,
      ['create', '-f', '-'],
      unitSet('only-in-a', { type: 'mysql', version: '8.0.36', units: 1 }),
    );
    expect(created).toMatchObject({ code: 0, stdout: 'unitset.upm.io/only-in-a created\n' });
    expect(await kubectlAt(a, ['get', 'us', '-o', 'name'])).toMatchObject({
      code: 0,
      stdout: 'unitset.upm.io/only-in-a\n',
    });
    const inB = await kubectlAt(b, ['get', 'us', 'only-in-a']);
    expect(inB.code).toBe(1);
    expect(inB.stderr).toContain('Error from server (NotFound): unitsets.upm.io "only-in-a" not found');
  });

  it('stops on SIGTERM to the npm process group and frees the ports', async () => {
    for (const instance of instances) {
      await npmStop(instance);
      await waitFor(`port ${instance.port} to be released`, () => portIsFree(instance.port), 10_000);
    }
  }, 30_000);
});
