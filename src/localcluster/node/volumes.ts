// A Pod's volumes on this machine, as the kubelet's volume manager sets them up: emptyDir as a
// directory per Pod; configMap, secret, downwardAPI and projected volumes through the atomic
// writer (and written again when their objects change); persistentVolumeClaim as the directory of
// the bound PersistentVolume (hostPath or local); hostPath as it is. Containers get bind mounts
// (sandbox.ts) built from their volumeMounts.

import { chmodSync, chownSync, existsSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { writeAtomically, type FileProjection } from './atomic-writer.js';
import { podFieldValue, resourceFieldValue } from './environment.js';
import { expand } from './expansion.js';
import type { Mount } from './sandbox.js';

type Obj = Record<string, any>;

/** A volume that cannot be set up (Warning FailedMount with this message). */
export class VolumeError extends Error {
  constructor(
    readonly volume: string,
    message: string,
  ) {
    super(`MountVolume.SetUp failed for volume "${volume}" : ${message}`);
  }
}

export interface VolumeSources {
  configMap(namespace: string, name: string): Obj | undefined;
  secret(namespace: string, name: string): Obj | undefined;
  /** The directory of the PersistentVolume bound to a claim; throws with kube's message when not bound. */
  claimPath(namespace: string, claim: string): Promise<string>;
  /** A TokenRequest for the Pod's service account. */
  serviceAccountToken(pod: Obj, audience: string | undefined, expirationSeconds: number): Promise<string>;
  allocatable: Record<string, string>;
}

const defaultMode = 0o644;

function keyToPaths(
  data: Record<string, Buffer>,
  items: Obj[] | undefined,
  mode: number,
  optional: boolean,
  what: string,
): Map<string, FileProjection> {
  const out = new Map<string, FileProjection>();
  if (!items || items.length === 0) {
    for (const [k, v] of Object.entries(data)) out.set(k, { data: v, mode });
    return out;
  }
  for (const item of items) {
    const value = data[item['key']];
    if (value === undefined) {
      if (optional) continue;
      throw new Error(`configmap references non-existent config key: ${item['key']}`.replace('configmap', what));
    }
    out.set(String(item['path']), { data: value, mode: item['mode'] ?? mode });
  }
  return out;
}

function configMapData(cm: Obj): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries((cm['data'] ?? {}) as Record<string, string>)) out[k] = Buffer.from(v, 'utf8');
  for (const [k, v] of Object.entries((cm['binaryData'] ?? {}) as Record<string, string>))
    out[k] = Buffer.from(v, 'base64');
  return out;
}

function secretData(secret: Obj): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries((secret['data'] ?? {}) as Record<string, string>))
    out[k] = Buffer.from(v, 'base64');
  for (const [k, v] of Object.entries((secret['stringData'] ?? {}) as Record<string, string>))
    out[k] = Buffer.from(v, 'utf8');
  return out;
}

export class PodVolumes {
  /** Volume name → directory (or file) on this machine. */
  readonly paths = new Map<string, string>();
  /** configMap, secret, downwardAPI and projected volumes are always mounted read-only. */
  private readonly readOnly = new Set<string>();
  private readonly tokens = new Map<string, { token: string; refreshAt: number }>();

  constructor(
    private pod: Obj,
    private readonly podDir: string,
    private readonly sources: VolumeSources,
  ) {}

  private get namespace(): string {
    return String(this.pod['metadata']?.namespace ?? 'default');
  }

  private get fsGroup(): number | undefined {
    const g = this.pod['spec']?.securityContext?.fsGroup;
    return g === undefined ? undefined : Number(g);
  }

  private volumeDir(name: string): string {
    return join(this.podDir, 'volumes', name);
  }

  /** Sets up every volume; throws VolumeError for the first that cannot be. */
  async setUp(): Promise<void> {
    for (const v of (this.pod['spec']?.volumes ?? []) as Obj[]) {
      const name = String(v['name']);
      try {
        await this.setUpOne(v);
      } catch (err) {
        if (err instanceof VolumeError) throw err;
        throw new VolumeError(name, (err as Error).message);
      }
    }
  }

  private ownDirectory(dir: string): void {
    const gid = this.fsGroup;
    if (gid === undefined) return;
    chownSync(dir, statSync(dir).uid, gid);
    chmodSync(dir, (statSync(dir).mode & 0o777) | 0o2070);
  }

  private async setUpOne(v: Obj): Promise<void> {
    const name = String(v['name']);
    if (v['emptyDir'] !== undefined) {
      const dir = this.volumeDir(name);
      if (!existsSync(dir)) {
        mkdirSync(dir, { recursive: true });
        chmodSync(dir, 0o777);
        this.ownDirectory(dir);
      }
      this.paths.set(name, dir);
    } else if (v['persistentVolumeClaim']) {
      const dir = await this.sources.claimPath(this.namespace, String(v['persistentVolumeClaim'].claimName));
      if (!existsSync(dir)) {
        mkdirSync(dir, { recursive: true });
        chmodSync(dir, 0o777);
      }
      this.ownDirectory(dir);
      this.paths.set(name, dir);
    } else if (v['hostPath']) {
      const path = String(v['hostPath'].path);
      const type = String(v['hostPath'].type ?? '');
      if (!existsSync(path)) {
        if (type === 'DirectoryOrCreate') mkdirSync(path, { recursive: true, mode: 0o755 });
        else if (type !== '') throw new Error(`hostPath type check failed: ${path} does not exist`);
      }
      this.paths.set(name, path);
    } else if (v['configMap'] || v['secret'] || v['downwardAPI'] || v['projected']) {
      this.paths.set(name, this.volumeDir(name));
      this.readOnly.add(name);
      await this.writeProjected(v);
    } else {
      const kind = Object.keys(v).find((k) => k !== 'name') ?? 'unknown';
      throw new VolumeError(name, `volume type ${kind} is not supported by this node`);
    }
  }

  /** The files of a configMap, secret, downwardAPI or projected volume. */
  private async projection(v: Obj): Promise<Map<string, FileProjection>> {
    const ns = this.namespace;
    if (v['configMap']) {
      const src = v['configMap'];
      const cm = this.sources.configMap(ns, src.name);
      if (!cm) {
        if (src.optional) return new Map();
        throw new Error(`configmap "${src.name}" not found`);
      }
      return keyToPaths(configMapData(cm), src.items, src.defaultMode ?? defaultMode, !!src.optional, 'configmap');
    }
    if (v['secret']) {
      const src = v['secret'];
      const secret = this.sources.secret(ns, src.secretName);
      if (!secret) {
        if (src.optional) return new Map();
        throw new Error(`secret "${src.secretName}" not found`);
      }
      return keyToPaths(secretData(secret), src.items, src.defaultMode ?? defaultMode, !!src.optional, 'secret');
    }
    if (v['downwardAPI'])
      return this.downward(v['downwardAPI'].items ?? [], v['downwardAPI'].defaultMode ?? defaultMode);
    const out = new Map<string, FileProjection>();
    const mode = v['projected'].defaultMode ?? defaultMode;
    for (const s of (v['projected'].sources ?? []) as Obj[]) {
      if (s['configMap']) {
        const cm = this.sources.configMap(ns, s['configMap'].name);
        if (!cm) {
          if (s['configMap'].optional) continue;
          throw new Error(`configmap "${s['configMap'].name}" not found`);
        }
        for (const [k, f] of keyToPaths(
          configMapData(cm),
          s['configMap'].items,
          mode,
          !!s['configMap'].optional,
          'configmap',
        ))
          out.set(k, f);
      } else if (s['secret']) {
        const secret = this.sources.secret(ns, s['secret'].name);
        if (!secret) {
          if (s['secret'].optional) continue;
          throw new Error(`secret "${s['secret'].name}" not found`);
        }
        for (const [k, f] of keyToPaths(secretData(secret), s['secret'].items, mode, !!s['secret'].optional, 'secret'))
          out.set(k, f);
      } else if (s['downwardAPI']) {
        for (const [k, f] of this.downward(s['downwardAPI'].items ?? [], mode)) out.set(k, f);
      } else if (s['serviceAccountToken']) {
        const t = s['serviceAccountToken'];
        out.set(String(t.path), { data: Buffer.from(await this.token(t.audience, t.expirationSeconds ?? 3600)), mode });
      }
    }
    return out;
  }

  private async token(audience: string | undefined, expirationSeconds: number): Promise<string> {
    const key = `${audience ?? ''}/${expirationSeconds}`;
    const cached = this.tokens.get(key);
    if (cached && Date.now() < cached.refreshAt) return cached.token;
    const token = await this.sources.serviceAccountToken(this.pod, audience, expirationSeconds);
    // Refreshed at 80 % of its lifetime, as the kubelet's token manager does.
    this.tokens.set(key, { token, refreshAt: Date.now() + expirationSeconds * 800 });
    return token;
  }

  private downward(items: Obj[], mode: number): Map<string, FileProjection> {
    const out = new Map<string, FileProjection>();
    for (const item of items) {
      let value: string | undefined;
      if (item['fieldRef']) value = podFieldValue(this.pod, String(item['fieldRef'].fieldPath));
      else if (item['resourceFieldRef'])
        value = resourceFieldValue(this.pod, undefined, item['resourceFieldRef'], this.sources.allocatable);
      if (value === undefined) throw new Error(`unsupported fieldPath in downwardAPI item ${item['path']}`);
      out.set(String(item['path']), { data: Buffer.from(value), mode: item['mode'] ?? mode });
    }
    return out;
  }

  private async writeProjected(v: Obj): Promise<boolean> {
    return writeAtomically(this.volumeDir(String(v['name'])), await this.projection(v), this.fsGroup);
  }

  /**
   * Writes the configMap, secret, downwardAPI and projected volumes again (objects changed, labels
   * changed, tokens aged); returns the names of the volumes whose files changed.
   */
  async refresh(pod: Obj): Promise<string[]> {
    this.pod = pod;
    const changed: string[] = [];
    for (const v of (pod['spec']?.volumes ?? []) as Obj[]) {
      if (!(v['configMap'] || v['secret'] || v['downwardAPI'] || v['projected'])) continue;
      if (!this.paths.has(String(v['name']))) continue;
      try {
        if (await this.writeProjected(v)) changed.push(String(v['name']));
      } catch {
        // A source that disappeared keeps the files it had, as with the kubelet.
      }
    }
    return changed;
  }

  /** The bind mounts of a container's volumeMounts; `env` expands subPathExpr. */
  mountsFor(container: Obj, env: (name: string) => string | undefined): Mount[] {
    const mounts: Mount[] = [];
    for (const m of (container['volumeMounts'] ?? []) as Obj[]) {
      const name = String(m['name']);
      const base = this.paths.get(name);
      if (base === undefined) throw new Error(`volume "${name}" is not set up for container ${container['name']}`);
      const subPath = m['subPathExpr'] ? expand(String(m['subPathExpr']), env) : String(m['subPath'] ?? '');
      let source = base;
      if (subPath) {
        if (subPath.startsWith('/') || normalize(subPath).split('/').includes('..'))
          throw new Error(`subPath "${subPath}" must be a relative path within the volume`);
        source = join(base, subPath);
        if (!existsSync(source)) {
          mkdirSync(source, { recursive: true });
          chmodSync(source, 0o777);
        }
        // A subPath of a configMap or secret volume pins the file the link points to now (as kube).
        source = realpathSync(source);
      }
      mounts.push({
        source,
        target: String(m['mountPath']),
        readOnly: !!m['readOnly'] || this.readOnly.has(name),
        file: statSync(source).isFile(),
      });
    }
    return mounts;
  }
}
