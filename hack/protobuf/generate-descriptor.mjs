#!/usr/bin/env node
// Derives the compact protobuf descriptor of the built-in kinds the local control plane serves
// (src/machinery/protobuf/generated/descriptor.ts) from Kubernetes' published definitions:
// field numbers and proto types from the generated.proto files of k8s.io/api, k8s.io/apimachinery
// and k8s.io/kube-aggregator; JSON names, inlining and omitempty from the struct tags of the same
// packages' Go types (the JSON form is what the server stores), and from the same tags the
// strategic-merge-patch strategies and merge keys. The two sources must agree on every field
// number, or the script fails.
//
//   node hack/protobuf/generate-descriptor.mjs            # downloads the modules with `go mod download`
//
// Needs Go (only for `go mod download`; the Go module proxy must be reachable).

import { execFileSync } from 'node:child_process';
import process from 'node:process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Kubernetes release the local control plane emulates (emulatedKubernetesVersion in src/localcluster/controlplane.ts). */
const KUBE_MODULE_VERSION = 'v0.33.13';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const output = join(repoRoot, 'src/machinery/protobuf/generated/descriptor.ts');

/** Packages whose messages may be reached, and the API group each serves. */
const packages = [
  { module: 'k8s.io/api', path: 'core/v1' },
  { module: 'k8s.io/api', path: 'coordination/v1' },
  { module: 'k8s.io/api', path: 'admissionregistration/v1' },
  { module: 'k8s.io/api', path: 'rbac/v1' },
  { module: 'k8s.io/api', path: 'authentication/v1' },
  { module: 'k8s.io/api', path: 'authorization/v1' },
  { module: 'k8s.io/kube-aggregator', path: 'pkg/apis/apiregistration/v1' },
  { module: 'k8s.io/apimachinery', path: 'pkg/apis/meta/v1' },
  { module: 'k8s.io/apimachinery', path: 'pkg/api/resource' },
  { module: 'k8s.io/apimachinery', path: 'pkg/util/intstr' },
  { module: 'k8s.io/apimachinery', path: 'pkg/runtime' },
];

/** The kinds whose bodies the control plane decodes and encodes: [package path, kinds]. Lists are added. */
const roots = [
  [
    'core/v1',
    ['Namespace', 'Pod', 'PersistentVolumeClaim', 'ConfigMap', 'Secret', 'Service', 'ServiceAccount', 'Event', 'Node'],
  ],
  ['coordination/v1', ['Lease']],
  ['admissionregistration/v1', ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']],
  ['rbac/v1', ['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']],
  ['pkg/apis/apiregistration/v1', ['APIService']],
];
/** Create-only kinds (no list). */
const reviewRoots = [
  ['authentication/v1', ['TokenReview', 'SelfSubjectReview', 'TokenRequest']],
  [
    'authorization/v1',
    ['SubjectAccessReview', 'LocalSubjectAccessReview', 'SelfSubjectAccessReview', 'SelfSubjectRulesReview'],
  ],
];
/** meta/v1 kinds any group answers with. */
const metaRoots = ['Status', 'DeleteOptions'];

function download() {
  const dir = mkdtempSync(join(tmpdir(), 'upm-protobuf-'));
  try {
    execFileSync('go', ['mod', 'init', 'descriptor'], { cwd: dir, stdio: 'ignore' });
    const modules = [...new Set(packages.map((p) => p.module))].map((m) => `${m}@${KUBE_MODULE_VERSION}`);
    const out = execFileSync('go', ['mod', 'download', '-json', ...modules], { cwd: dir, encoding: 'utf8' });
    const dirs = {};
    for (const chunk of out.split(/\n}\n?/).filter((c) => c.trim())) {
      const info = JSON.parse(`${chunk}\n}`);
      if (info.Error) throw new Error(`${info.Path}: ${info.Error}`);
      dirs[info.Path] = info.Dir;
    }
    return dirs;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- .proto ----------------------------------------------------------------------------------

/** Messages of one generated.proto: name → {annotations, fields: [{label, type, name, number, map}]}. */
function parseProto(text) {
  const pkg = /^package\s+([\w.]+);/m.exec(text)[1];
  const messages = new Map();
  const lines = text.split('\n');
  let comments = [];
  let current;
  for (const raw of lines) {
    const line = raw.trim();
    if (line.startsWith('//')) {
      comments.push(line);
      continue;
    }
    let m;
    if (!current && (m = /^message\s+(\w+)\s*\{$/.exec(line))) {
      current = { name: m[1], annotations: comments.filter((c) => c.includes('+protobuf')), fields: [] };
      messages.set(m[1], current);
    } else if (current && line === '}') {
      current = undefined;
    } else if (current && (m = /^(optional|repeated)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+);$/.exec(line))) {
      current.fields.push({ label: m[1], type: m[2], name: m[3], number: Number(m[4]) });
    } else if (current && (m = /^map<\s*([\w.]+)\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+);$/.exec(line))) {
      current.fields.push({ label: 'map', key: m[1], type: m[2], name: m[3], number: Number(m[4]) });
    } else if (current && line !== '' && !line.startsWith('option ')) {
      throw new Error(`${pkg}.${current.name}: cannot read ${JSON.stringify(line)}`);
    }
    if (line !== '' && !line.startsWith('//')) comments = [];
  }
  return { pkg, messages };
}

// ---- Go struct tags --------------------------------------------------------------------------

/** Go structs of a package: name → proto field name → {json, inline, omitempty, pointer, number}. */
function parseGoStructs(dir) {
  const structs = new Map();
  for (const file of readdirSync(dir)) {
    if (
      !file.endsWith('.go') ||
      file.endsWith('_test.go') ||
      file.startsWith('zz_generated') ||
      file === 'generated.pb.go'
    )
      continue;
    const text = readFileSync(join(dir, file), 'utf8');
    let current;
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      let m;
      if ((m = /^type\s+(\w+)\s+struct\s*\{$/.exec(line))) {
        current = new Map();
        structs.set(m[1], current);
      } else if (current && line === '}') {
        current = undefined;
      } else if (current && (m = /^(?:(\w+)\s+)?(\*?[\w.[\]*]+)\s+`(.*)`$/.exec(line))) {
        const tags = m[3];
        const proto = /protobuf:"([^"]*)"/.exec(tags)?.[1];
        if (!proto || proto === '-') continue;
        const parts = proto.split(',');
        // Without name=, go-to-protobuf names the field after the Go field (or embedded type), lower camel case.
        const goName = m[1] ?? m[2].replace(/^\*/, '').split('.').pop();
        const name = parts.find((p) => p.startsWith('name='))?.slice(5) ?? goName[0].toLowerCase() + goName.slice(1);
        const json = /json:"([^"]*)"/.exec(tags)?.[1] ?? '';
        const [jsonName, ...opts] = json.split(',');
        current.set(name, {
          patchStrategy: /patchStrategy:"([^"]*)"/.exec(tags)?.[1],
          patchMergeKey: /patchMergeKey:"([^"]*)"/.exec(tags)?.[1],
          number: Number(parts[1]),
          json: jsonName,
          inline: jsonName === '' && opts.includes('inline'),
          omitempty: opts.includes('omitempty'),
          pointer: m[2].startsWith('*'),
        });
      }
    }
  }
  return structs;
}

function groupOf(dir) {
  for (const file of ['register.go', '../register.go']) {
    try {
      const m = /GroupName\s*=\s*"([^"]*)"/.exec(readFileSync(join(dir, file), 'utf8'));
      if (m) return m[1];
    } catch {
      // next
    }
  }
  return undefined;
}

// ---- descriptor ------------------------------------------------------------------------------

const SCALARS = new Set(['string', 'bool', 'int32', 'int64', 'bytes', 'double']);

// Field flags in the descriptor.
const REPEATED = 1;
const INLINE = 2;
const OMITEMPTY = 4;
const POINTER = 8;

function main() {
  const dirs = download();
  const protos = new Map(); // full message name → message
  const goFields = new Map(); // full message name → struct fields
  const pkgOf = new Map(); // package path → {protoPackage, group, version}
  for (const p of packages) {
    const dir = join(dirs[p.module], p.path);
    const { pkg, messages } = parseProto(readFileSync(join(dir, 'generated.proto'), 'utf8'));
    const structs = parseGoStructs(dir);
    for (const [name, msg] of messages) {
      protos.set(`${pkg}.${name}`, { ...msg, pkg });
      if (structs.get(name)?.size) goFields.set(`${pkg}.${name}`, structs.get(name));
    }
    pkgOf.set(p.path, { protoPackage: pkg, group: groupOf(dir), version: p.path.split('/').pop() });
  }

  const resolveType = (pkg, type) => {
    if (SCALARS.has(type)) return type;
    const full = type.startsWith('.') ? type.slice(1) : `${pkg}.${type}`;
    if (!protos.has(full)) throw new Error(`unknown message ${full} (from ${pkg})`);
    return full;
  };

  const kinds = {};
  const wanted = [];
  const addKind = (path, kind) => {
    const { protoPackage, group, version } = pkgOf.get(path);
    const full = `${protoPackage}.${kind}`;
    if (!protos.has(full)) throw new Error(`no message for ${path} ${kind}`);
    kinds[`${group ? `${group}/` : ''}${version}/${kind}`] = full;
    wanted.push(full);
  };
  for (const [path, list] of roots) {
    for (const kind of list) {
      addKind(path, kind);
      addKind(path, `${kind}List`);
    }
  }
  for (const [path, list] of reviewRoots) for (const kind of list) addKind(path, kind);
  for (const kind of metaRoots) addKind('pkg/apis/meta/v1', kind);
  wanted.push('k8s.io.apimachinery.pkg.runtime.Unknown');

  const messages = {};
  const annotations = {};
  const patch = {};
  while (wanted.length > 0) {
    const full = wanted.pop();
    if (messages[full]) continue;
    const msg = protos.get(full);
    const go = goFields.get(full);
    messages[full] = msg.fields.map((f) => {
      const tag = go?.get(f.name);
      if (go && !tag) throw new Error(`${full}.${f.name}: no Go struct field with this protobuf name`);
      if (tag && tag.number !== f.number)
        throw new Error(`${full}.${f.name}: generated.proto says ${f.number}, the Go tag ${tag.number}`);
      const type = resolveType(msg.pkg, f.type);
      if (!SCALARS.has(type)) wanted.push(type);
      let flags = 0;
      if (f.label === 'repeated') flags |= REPEATED;
      if (tag?.inline) flags |= INLINE;
      if (tag?.omitempty) flags |= OMITEMPTY;
      if (tag?.pointer) flags |= POINTER;
      const json = tag && !tag.inline ? tag.json || f.name : f.name;
      if (tag?.patchStrategy)
        (patch[full] ??= {})[json] = tag.patchMergeKey ? [tag.patchStrategy, tag.patchMergeKey] : [tag.patchStrategy];
      return f.label === 'map'
        ? [json, f.number, type, flags, resolveType(msg.pkg, f.key)]
        : [json, f.number, type, flags];
    });
    const notes = msg.annotations
      .map((a) => /\+protobuf\.(nullable=true|embed=string|as=Timestamp)/.exec(a)?.[1])
      .filter(Boolean);
    if (notes.length > 0) annotations[full] = notes;
  }

  const sorted = Object.fromEntries(
    Object.keys(messages)
      .sort()
      .map((k) => [k, messages[k]]),
  );
  const descriptor = {
    source: [...new Set(packages.map((p) => p.module))].map((m) => `${m}@${KUBE_MODULE_VERSION}`),
    kinds: Object.fromEntries(
      Object.keys(kinds)
        .sort()
        .map((k) => [k, kinds[k]]),
    ),
    annotations,
    patch: Object.fromEntries(
      Object.keys(patch)
        .sort()
        .map((k) => [k, patch[k]]),
    ),
    messages: sorted,
  };
  writeFileSync(
    output,
    `// Generated by hack/protobuf/generate-descriptor.mjs from ${descriptor.source.join(', ')}. Do not edit.\n` +
      `// Fields: [jsonName, number, type, flags (1 repeated, 2 inline, 4 omitempty, 8 pointer), mapKeyType?].\n\n` +
      `import type { Descriptor } from '../descriptor-types.js';\n\n` +
      `export const descriptor: Descriptor = ${JSON.stringify(descriptor)};\n`,
  );
  process.stdout.write(`${output}: ${Object.keys(sorted).length} messages, ${Object.keys(kinds).length} kinds\n`);
}

main();
