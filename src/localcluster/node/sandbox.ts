// A container as a process of this machine. There is no container runtime: the container's
// "image" is this machine's root filesystem seen through a per-container overlay (writes stay
// private; the image table's files are laid into it), in a private mount namespace where the
// Pod's volumes are bound at their mountPath, /dev is a small private tmpfs and /etc/hosts is the
// Pod's. The process runs under the container's uid/gid.
//
// One process all the way: setpriv (parent-death signal: the container dies with the node) →
// unshare --mount (private propagation: nothing leaks to the host) → sh start.sh (mounts, then
// chroot) → setpriv (uid/gid, parent-death signal again since a uid change clears it) → env -i
// (the container's environment) → the command. The pid Node gets is the container's main process,
// so its exit code and signal are the container's; `detached` makes it leader of a process group
// that signals reach as a whole.
//
// exec (kubectl exec, exec probes) enters the same mount namespace and root with nsenter.

import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** The machine's capabilities for running containers. */
export interface SandboxSupport {
  /** Private mount namespaces, overlay roots and uid changes (root on Linux with util-linux). */
  namespaces: boolean;
  /** Why not, for the Pods that need it. */
  reason?: string;
}

export function detectSandboxSupport(): SandboxSupport {
  if (process.platform !== 'linux')
    return { namespaces: false, reason: `this machine runs ${process.platform}, not Linux` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    return { namespaces: false, reason: 'the node does not run as root (private mount namespaces need it)' };
  for (const tool of ['/usr/bin/unshare', '/usr/bin/setpriv', '/usr/bin/nsenter', '/usr/sbin/chroot']) {
    if (!existsSync(tool)) return { namespaces: false, reason: `${tool} is missing (util-linux, coreutils)` };
  }
  return { namespaces: true };
}

/** A process's start time in clock ticks since boot (/proc/PID/stat field 22); undefined when gone. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return undefined;
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

export function bootID(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

// ---- users ---------------------------------------------------------------------------------------

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

function readPasswd(): PasswdEntry[] {
  try {
    return readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(':'))
      .map((f) => ({ name: f[0], uid: Number(f[2]), gid: Number(f[3]) }));
  } catch {
    return [];
  }
}

export interface Identity {
  uid: number;
  gid: number;
  groups: number[];
}

type Obj = Record<string, any>;

/**
 * The uid/gid a container runs as: securityContext (container over pod) over the image's USER.
 * Throws an Error whose message is the CreateContainerConfigError text.
 */
export function containerIdentity(pod: Obj, container: Obj, imageUser: string): Identity {
  const podSC = pod['spec']?.securityContext ?? {};
  const sc = container['securityContext'] ?? {};
  const passwd = readPasswd();
  const runAsUser: number | undefined = sc.runAsUser ?? podSC.runAsUser;
  const runAsGroup: number | undefined = sc.runAsGroup ?? podSC.runAsGroup;
  let uid: number;
  let gid: number | undefined;
  if (runAsUser !== undefined) {
    uid = Number(runAsUser);
    gid = passwd.find((p) => p.uid === uid)?.gid;
  } else if (/^\d+$/.test(imageUser)) {
    uid = Number(imageUser);
    gid = passwd.find((p) => p.uid === uid)?.gid;
  } else {
    const entry = passwd.find((p) => p.name === imageUser);
    if (!entry) throw new Error(`image user "${imageUser}" does not exist on this machine`);
    uid = entry.uid;
    gid = entry.gid;
  }
  if (runAsGroup !== undefined) gid = Number(runAsGroup);
  const runAsNonRoot = sc.runAsNonRoot ?? podSC.runAsNonRoot;
  if (runAsNonRoot && uid === 0) throw new Error('container has runAsNonRoot and image will run as root');
  const groups = [
    ...((podSC.supplementalGroups ?? []) as number[]),
    ...(podSC.fsGroup !== undefined ? [Number(podSC.fsGroup)] : []),
  ].map(Number);
  return { uid, gid: gid ?? 0, groups: [...new Set(groups)] };
}

// ---- host mounts ---------------------------------------------------------------------------------

function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

const privatePrefixes = ['/proc', '/sys', '/dev', '/run', '/var/run', '/tmp', '/var/tmp'];

function under(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`);
}

/**
 * The host mounts a container's root binds (recursively) on top of its overlay of `/`: every
 * mount below `/` except /proc, /sys and /dev (handled on their own), /run and /tmp (private to
 * the container, as in an image) and the node's own directory.
 */
export function hostMountsToBind(nodeDir: string, mountinfo?: string): string[] {
  let text = mountinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      return [];
    }
  }
  const points = [
    ...new Set(
      text
        .split('\n')
        .filter(Boolean)
        .map((line) => unescapeMountPath(line.split(' ')[4])),
    ),
  ]
    .filter((p) => p !== '/' && !privatePrefixes.some((x) => under(p, x)) && !under(p, nodeDir))
    .sort();
  // rbind takes the nested mounts along: only the outermost ones.
  return points.filter((p) => !points.some((q) => q !== p && under(p, q)));
}

// ---- paths in the container's view ----------------------------------------------------------------

/**
 * A path as the container resolves it, symlinks followed inside its root (as runc's securejoin):
 * the root is the image files (`upper`) over this machine's `/`. `/var/run/secrets` becomes
 * `/run/secrets` where /var/run links to /run; a mount target must be that real path, or the bind
 * would land on this machine's /run instead of the container's.
 */
export function resolveInContainer(path: string, upper: string): string {
  const lstat = (p: string) => {
    for (const layer of [upper, '/']) {
      try {
        return { stat: lstatSync(layer === '/' ? p : join(layer, p)), layer };
      } catch {
        // not in this layer
      }
    }
    return undefined;
  };
  let pending = path.split('/').filter(Boolean);
  let resolved: string[] = [];
  for (let hops = 0; pending.length > 0;) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = `/${[...resolved, part].join('/')}`;
    const found = lstat(candidate);
    if (found?.stat.isSymbolicLink() && hops++ < 40) {
      const target = readlinkSync(found.layer === '/' ? candidate : join(found.layer, candidate));
      if (target.startsWith('/')) resolved = [];
      pending = [...target.split('/').filter(Boolean), ...pending];
      continue;
    }
    resolved.push(part);
  }
  return `/${resolved.join('/')}`;
}

// ---- the start script ----------------------------------------------------------------------------

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface Mount {
  /** A directory or file of this machine. */
  source: string;
  /** Absolute path in the container. */
  target: string;
  readOnly: boolean;
  /** The source is a file (subPath of a file, /etc/hosts, the termination log). */
  file: boolean;
}

export interface ContainerLaunch {
  /** The container's root mount point, with `upper` and `work` for the overlay. */
  root: string;
  upper: string;
  work: string;
  hostMounts: string[];
  mounts: Mount[];
  workingDir: string;
  identity: Identity;
  env: { name: string; value: string }[];
  argv: string[];
  /** Where the script reports a failure to set up (the container's StartError message). */
  setupErrorFile: string;
  hostname: string;
  /** Lines run first (joining the container's cgroup). */
  setup?: string[];
}

/** The shell script that builds the container's view and execs its command. */
export function startScript(l: ContainerLaunch): string {
  const q = shellQuote;
  const lines = [
    'set -e',
    'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
    `root=${q(l.root)}`,
    `fail() { printf '%s' "$1" > ${q(l.setupErrorFile)}; exit 128; }`,
    ...(l.setup ?? []),
    `hostname ${q(l.hostname)}`,
    `mount -t overlay overlay -o ${q(`lowerdir=/,upperdir=${l.upper},workdir=${l.work}`)} "$root" || fail 'cannot mount the container root (overlay)'`,
    'mount --rbind /proc "$root/proc"',
    'mount --rbind /sys "$root/sys"',
    'mount -t tmpfs -o nosuid,mode=0755,size=65536k tmpfs "$root/dev"',
    'for d in null zero full random urandom tty; do touch "$root/dev/$d"; mount --bind "/dev/$d" "$root/dev/$d"; done',
    'mkdir -p "$root/dev/pts" "$root/dev/shm" "$root/dev/mqueue"',
    'mount --bind /dev/pts "$root/dev/pts"',
    'mount -t tmpfs -o nosuid,nodev,mode=1777,size=65536k shm "$root/dev/shm"',
    'ln -s /proc/self/fd "$root/dev/fd"; ln -s /proc/self/fd/0 "$root/dev/stdin"',
    'ln -s /proc/self/fd/1 "$root/dev/stdout"; ln -s /proc/self/fd/2 "$root/dev/stderr"; ln -s pts/ptmx "$root/dev/ptmx"',
    ...l.hostMounts.map((m) => `if [ -d ${q(m)} ]; then mount --rbind ${q(m)} "$root"${q(m)}; fi`),
  ];
  for (const m of l.mounts) {
    const target = `"$root"${q(m.target)}`;
    lines.push(
      m.file
        ? `mkdir -p "$(dirname ${target})"; [ -e ${target} ] || touch ${target} || fail ${q(`cannot create the mount point ${m.target}`)}`
        : `mkdir -p ${target} || fail ${q(`cannot create the mount point ${m.target}`)}`,
      `mount --bind ${q(m.source)} ${target} || fail ${q(`cannot mount ${m.source} at ${m.target}`)}`,
    );
    if (m.readOnly) lines.push(`mount -o remount,bind,ro ${target}`);
  }
  const [command] = l.argv;
  const groups = l.identity.groups.length > 0 ? `--groups=${l.identity.groups.join(',')}` : '--clear-groups';
  const pathOf = l.env.filter((e) => e.name === 'PATH').at(-1)?.value ?? '';
  const notFound = command.includes('/') ? 'no such file or directory' : 'executable file not found in $PATH';
  lines.push(
    `mkdir -p "$root"${q(l.workingDir)}`,
    `cd "$root"${q(l.workingDir)} || fail ${q(`cannot enter the working directory ${l.workingDir}`)}`,
    // The command must exist in the container's view: containerd reports a StartError otherwise.
    `command=${q(command)}`,
    'found=',
    'case "$command" in',
    '*/*) if [ -x "$root$command" ]; then found=1; fi ;;',
    `*) search=${q(pathOf)}; IFS=:; for d in $search; do if [ -n "$d" ] && [ -x "$root$d/$command" ]; then found=1; break; fi; done; unset IFS ;;`,
    'esac',
    `[ -n "$found" ] || fail ${q(`exec: "${command}": ${notFound}`)}`,
    [
      'exec chroot "$root" setpriv',
      `--reuid=${l.identity.uid}`,
      `--regid=${l.identity.gid}`,
      groups,
      '--pdeathsig=SIGKILL',
      '--',
      // chroot enters `/`; env --chdir sets the working directory inside the new root.
      `env -i --chdir=${q(l.workingDir)}`,
      ...l.env.map((e) => q(`${e.name}=${e.value}`)),
      ...l.argv.map(q),
    ].join(' '),
  );
  return `${lines.join('\n')}\n`;
}

/** Starts a container from its start script (see the file comment). */
export function spawnContainer(scriptFile: string, stdin: boolean): ChildProcess {
  const stdio: StdioOptions = [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'];
  return spawn(
    '/usr/bin/setpriv',
    ['--pdeathsig=SIGKILL', '/usr/bin/unshare', '--mount', '--uts', '--propagation', 'private', '/bin/sh', scriptFile],
    { detached: true, stdio, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } },
  );
}

export interface ExecTarget {
  /** The container's main process. */
  pid: number;
  identity: Identity;
  env: { name: string; value: string }[];
  workingDir: string;
}

/** Runs a command in a running container's view (its mounts, root, user and environment). */
export function execInContainer(t: ExecTarget, argv: string[], opts: { stdin: boolean; tty?: boolean }): ChildProcess {
  const groups = t.identity.groups.length > 0 ? `--groups=${t.identity.groups.join(',')}` : '--clear-groups';
  return spawn(
    '/usr/bin/setpriv',
    [
      '--pdeathsig=SIGKILL',
      '/usr/bin/nsenter',
      `--target=${t.pid}`,
      '--mount',
      '--uts',
      '--root',
      `--wdns=${t.workingDir}`,
      '/usr/bin/setpriv',
      `--reuid=${t.identity.uid}`,
      `--regid=${t.identity.gid}`,
      groups,
      '--pdeathsig=SIGKILL',
      '--',
      '/usr/bin/env',
      '-i',
      ...t.env.map((e) => `${e.name}=${e.value}`),
      ...argv,
    ],
    {
      detached: true,
      stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    },
  );
}
