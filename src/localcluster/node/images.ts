// The image table: which container images this node runs as processes, and how. An entry stands
// for an image's content: its ENTRYPOINT and CMD, user, working directory, environment, VOLUMEs,
// and the files it would carry (entrypoint scripts, wrappers around this machine's binaries).
// Containers of images no entry matches are simulated; an entry whose binaries are missing on
// this machine counts as no entry, with the reason shown.
//
// The defaults cover the official mariadb, redis and valkey images and the Prometheus exporters
// Debian packages. `mysql:*` is not mapped: no MySQL 8 server exists here, and running MariaDB
// for it must be the user's choice (a file entry `{match: ["mysql:*"], like: mariadb}`).
//
// A file (--node-images) adds entries before the defaults (the first match wins):
//   images:
//     - name: mysql-as-mariadb
//       match: ["mysql:*"]
//       like: mariadb          # everything else from the entry named mariadb
//     - name: tool
//       match: ["example.com/tool:*"]
//       entrypoint: ["/usr/local/bin/tool"]
//       requires: ["/usr/local/bin/tool"]
//       user: nobody

import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYAML } from 'yaml';
import {
  exporterWrapper,
  mariadbdWrapper,
  mariadbEntrypoint,
  mariadbHealthcheck,
  redisCliWrapper,
  redisEntrypoint,
  redisServerWrapper,
} from './image-files.js';

export interface ImageFile {
  /** Absolute path in the container. */
  path: string;
  content: string;
  /** Octal mode; default 0755. */
  mode?: number;
}

export interface ImageDirectory {
  path: string;
  /** A user name or uid of this machine; default the entry's user. */
  owner?: string;
  mode?: number;
}

export interface ImageEntry {
  name: string;
  /** Image patterns: `redis:*`, `bitnami/redis:7.*`, `docker.io/library/mariadb:11`. */
  match: string[];
  /** The image's ENTRYPOINT and CMD. */
  entrypoint: string[];
  cmd: string[];
  /** The image's USER: a user name or uid of this machine. */
  user: string;
  workingDir: string;
  /** The image's ENV. */
  env: Record<string, string>;
  /** The image's VOLUMEs: an empty directory per Pod unless a volume is mounted there. */
  volumes: string[];
  /** Directories the image has, with their owner. */
  directories: ImageDirectory[];
  files: ImageFile[];
  /** Binaries of this machine the entry needs; missing ones make the image unknown. */
  requires: string[];
  /** How to get what `requires` lists, for the message when something is missing. */
  install?: string;
}

export type ImageResolution =
  | { kind: 'known'; entry: ImageEntry }
  | { kind: 'unknown'; reason: string }
  | { kind: 'unavailable'; entry: ImageEntry; reason: string };

const standardPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function mariadbEntry(): ImageEntry {
  return {
    name: 'mariadb',
    match: ['mariadb', 'mariadb:*'],
    entrypoint: ['docker-entrypoint.sh'],
    cmd: ['mariadbd'],
    user: 'mysql',
    workingDir: '/',
    env: { PATH: standardPath, LANG: 'C.UTF-8' },
    volumes: ['/var/lib/mysql'],
    directories: [{ path: '/run/mysqld', mode: 0o755 }],
    files: [
      { path: '/usr/local/bin/docker-entrypoint.sh', content: mariadbEntrypoint },
      { path: '/usr/local/bin/healthcheck.sh', content: mariadbHealthcheck },
      { path: '/usr/local/sbin/mariadbd', content: mariadbdWrapper('/usr/sbin/mariadbd') },
      { path: '/usr/local/sbin/mysqld', content: mariadbdWrapper('/usr/sbin/mariadbd') },
      {
        path: '/etc/mysql/conf.d/docker.cnf',
        content: '[mariadb]\nhost-cache-size=0\nskip-name-resolve\n',
        mode: 0o644,
      },
    ],
    requires: ['/usr/sbin/mariadbd', '/usr/bin/mariadb-install-db', '/usr/bin/mariadb', '/usr/bin/mariadb-admin'],
    install: 'apt-get install mariadb-server',
  };
}

function redisEntry(name: string, match: string[], cmd: string): ImageEntry {
  const cli = cmd.replace('-server', '-cli');
  return {
    name,
    match,
    entrypoint: ['docker-entrypoint.sh'],
    cmd: [cmd],
    user: 'redis',
    workingDir: '/data',
    env: { PATH: standardPath },
    volumes: ['/data'],
    directories: [],
    files: [
      { path: '/usr/local/bin/docker-entrypoint.sh', content: redisEntrypoint },
      { path: `/usr/local/bin/${cmd}`, content: redisServerWrapper('/usr/bin/redis-server') },
      { path: `/usr/local/bin/${cli}`, content: redisCliWrapper('/usr/bin/redis-cli') },
      ...(cmd === 'redis-server'
        ? []
        : [
            { path: '/usr/local/bin/redis-server', content: redisServerWrapper('/usr/bin/redis-server') },
            { path: '/usr/local/bin/redis-cli', content: redisCliWrapper('/usr/bin/redis-cli') },
          ]),
    ],
    requires: ['/usr/bin/redis-server', '/usr/bin/redis-cli'],
    install: 'apt-get install redis-server',
  };
}

function exporterEntry(
  name: string,
  match: string[],
  entrypoint: string,
  binary: string,
  port: number,
  pkg: string,
): ImageEntry {
  return {
    name,
    match,
    entrypoint: [entrypoint],
    cmd: [],
    user: 'nobody',
    workingDir: '/',
    env: { PATH: standardPath },
    volumes: [],
    directories: [],
    files: [{ path: entrypoint, content: exporterWrapper(binary, port) }],
    requires: [binary],
    install: `apt-get install ${pkg}`,
  };
}

/** The built-in entries. */
export function defaultImageEntries(): ImageEntry[] {
  return [
    mariadbEntry(),
    redisEntry('redis', ['redis', 'redis:*', 'bitnami/redis:*'], 'redis-server'),
    redisEntry('valkey', ['valkey/valkey', 'valkey/valkey:*', 'valkey:*'], 'valkey-server'),
    exporterEntry(
      'mysqld-exporter',
      ['prom/mysqld-exporter:*', 'quay.io/prometheus/mysqld-exporter:*', 'bitnami/mysqld-exporter:*'],
      '/bin/mysqld_exporter',
      '/usr/bin/prometheus-mysqld-exporter',
      9104,
      'prometheus-mysqld-exporter',
    ),
    exporterEntry(
      'redis-exporter',
      ['oliver006/redis_exporter:*', 'bitnami/redis-exporter:*', 'quay.io/oliver006/redis_exporter:*'],
      '/redis_exporter',
      '/usr/bin/prometheus-redis-exporter',
      9121,
      'prometheus-redis-exporter',
    ),
  ];
}

/** An image reference split as the registry would: `redis:7` → docker.io/library/redis, tag 7. */
export interface ImageReference {
  /** `docker.io/library/redis` */
  repository: string;
  /** `redis` for Docker Hub library images, `bitnami/redis`, `quay.io/x/y` otherwise. */
  familiar: string;
  tag: string;
  digest?: string;
}

export function parseImageReference(image: string): ImageReference {
  const [nameAndTag, digest] = image.split('@', 2);
  const slash = nameAndTag.lastIndexOf('/');
  const colon = nameAndTag.lastIndexOf(':');
  const hasTag = colon > slash;
  const name = hasTag ? nameAndTag.slice(0, colon) : nameAndTag;
  const tag = hasTag ? nameAndTag.slice(colon + 1) : 'latest';
  const first = name.split('/')[0];
  const hasRegistry = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  const repository = hasRegistry ? name : name.includes('/') ? `docker.io/${name}` : `docker.io/library/${name}`;
  const familiar = repository.startsWith('docker.io/library/')
    ? repository.slice('docker.io/library/'.length)
    : repository.startsWith('docker.io/')
      ? repository.slice('docker.io/'.length)
      : repository;
  return { repository, familiar, tag, ...(digest ? { digest } : {}) };
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\?]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

/** Whether a pattern (`redis:*`, `redis`, `docker.io/library/redis:7.*`) matches the image. */
export function imageMatches(pattern: string, ref: ImageReference): boolean {
  const slash = pattern.lastIndexOf('/');
  const colon = pattern.lastIndexOf(':');
  const hasTag = colon > slash;
  const namePart = hasTag ? pattern.slice(0, colon) : pattern;
  const tagPart = hasTag ? pattern.slice(colon + 1) : '*';
  const names = globToRegExp(namePart);
  return (names.test(ref.familiar) || names.test(ref.repository)) && globToRegExp(tagPart).test(ref.tag);
}

export class ImageTable {
  private readonly resolved = new Map<string, ImageResolution>();

  constructor(
    readonly entries: readonly ImageEntry[],
    private readonly exists: (path: string) => boolean = existsSync,
  ) {}

  /** The built-in entries, after those of a file when one is given. */
  static load(file?: string): ImageTable {
    const defaults = defaultImageEntries();
    if (!file) return new ImageTable(defaults);
    return new ImageTable([...parseImageFile(readFileSync(file, 'utf8'), defaults, file), ...defaults]);
  }

  resolve(image: string): ImageResolution {
    let r = this.resolved.get(image);
    if (!r) {
      r = this.compute(image);
      this.resolved.set(image, r);
    }
    return r;
  }

  private compute(image: string): ImageResolution {
    const ref = parseImageReference(image);
    const entry = this.entries.find((e) => e.match.some((p) => imageMatches(p, ref)));
    if (!entry) return { kind: 'unknown', reason: `image "${image}" is not in this node's image table` };
    const missing = entry.requires.filter((path) => !this.exists(path));
    if (missing.length > 0) {
      return {
        kind: 'unavailable',
        entry,
        reason: `image "${image}" runs ${missing.join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not installed on this machine${entry.install ? ` (${entry.install})` : ''}`,
      };
    }
    return { kind: 'known', entry };
  }
}

/** Entries of an image table file (YAML or JSON); throws with the file and entry in the message. */
export function parseImageFile(text: string, defaults: readonly ImageEntry[], source = 'image table'): ImageEntry[] {
  const doc = parseYAML(text) as unknown;
  const list = (doc as { images?: unknown } | null)?.images;
  if (!Array.isArray(list)) throw new Error(`${source}: expected a top-level "images" list`);
  const known = new Map(defaults.map((e) => [e.name, e]));
  return list.map((raw: unknown, i) => {
    const where = `${source}: images[${i}]`;
    if (typeof raw !== 'object' || raw === null) throw new Error(`${where}: expected an object`);
    const o = raw as Record<string, unknown>;
    const strings = (key: string): string[] | undefined => {
      const v = o[key];
      if (v === undefined) return undefined;
      if (!Array.isArray(v) || v.some((s) => typeof s !== 'string'))
        throw new Error(`${where}.${key}: expected a list of strings`);
      return v as string[];
    };
    const text = (key: string): string | undefined => {
      const v = o[key];
      if (v === undefined) return undefined;
      if (typeof v !== 'string' && typeof v !== 'number') throw new Error(`${where}.${key}: expected a string`);
      return String(v);
    };
    const match = strings('match');
    if (!match || match.length === 0) throw new Error(`${where}.match: at least one image pattern is required`);
    const likeName = text('like');
    const base = likeName === undefined ? undefined : known.get(likeName);
    if (likeName !== undefined && !base)
      throw new Error(`${where}.like: no built-in entry "${likeName}" (${[...known.keys()].join(', ')})`);
    const entrypoint = strings('entrypoint') ?? base?.entrypoint;
    if (!entrypoint) throw new Error(`${where}: entrypoint is required unless the entry is "like" a built-in one`);
    const env = o['env'];
    if (env !== undefined && (typeof env !== 'object' || env === null || Array.isArray(env)))
      throw new Error(`${where}.env: expected a map of strings`);
    const files = o['files'];
    if (files !== undefined && !Array.isArray(files)) throw new Error(`${where}.files: expected a list`);
    return {
      name: text('name') ?? `${source}[${i}]`,
      match,
      entrypoint,
      cmd: strings('cmd') ?? base?.cmd ?? [],
      user: text('user') ?? base?.user ?? 'nobody',
      workingDir: text('workingDir') ?? base?.workingDir ?? '/',
      env: { ...(base?.env ?? { PATH: standardPath }), ...((env as Record<string, string>) ?? {}) },
      volumes: strings('volumes') ?? base?.volumes ?? [],
      directories: base?.directories ?? [],
      files: [...(base?.files ?? []), ...((files as ImageFile[] | undefined) ?? [])],
      requires: strings('requires') ?? base?.requires ?? [],
      install: text('install') ?? base?.install,
    };
  });
}

/** The command line of a container: the image's ENTRYPOINT/CMD where the spec leaves them out. */
export function containerCommand(
  spec: { command?: string[]; args?: string[] },
  entry: Pick<ImageEntry, 'entrypoint' | 'cmd'>,
): string[] {
  if (spec.command && spec.command.length > 0) return [...spec.command, ...(spec.args ?? [])];
  return [...entry.entrypoint, ...(spec.args && spec.args.length > 0 ? spec.args : entry.cmd)];
}
