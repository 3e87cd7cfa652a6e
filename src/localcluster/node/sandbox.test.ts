import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { throughLowerSymlinks } from './pod-worker.js';
import { hostMountsToBind, resolveInContainer, shellQuote, startScript } from './sandbox.js';

describe('the container sandbox', () => {
  let upper: string;
  beforeAll(() => {
    upper = mkdtempSync(join(tmpdir(), 'upm-upper-'));
    mkdirSync(join(upper, 'opt'), { recursive: true });
    symlinkSync('/etc', join(upper, 'opt', 'conf'));
    symlinkSync('../etc/mysql', join(upper, 'opt', 'relative'));
  });
  afterAll(() => rmSync(upper, { recursive: true, force: true }));

  it('resolves mount targets inside the container root, following its symlinks there', () => {
    expect(resolveInContainer('/opt/conf/app', upper)).toBe('/etc/app');
    expect(resolveInContainer('/opt/relative/conf.d', upper)).toBe('/etc/mysql/conf.d');
    expect(resolveInContainer('/data/../var/lib/mysql', upper)).toBe('/var/lib/mysql');
    expect(resolveInContainer('/not/there/at/all', upper)).toBe('/not/there/at/all');
  });

  it('binds the host mounts under / except /proc, /sys, /dev, /run, /tmp and the node directory, outermost only', () => {
    const line = (point: string) => `36 25 0:32 / ${point} rw,relatime - ext4 /dev/x rw`;
    const mountinfo = [
      '/',
      '/proc',
      '/sys/fs/cgroup',
      '/dev/shm',
      '/run/user/0',
      '/tmp',
      '/work',
      '/work/a',
      '/srv/node/pods/x',
      '/data\\040disk',
    ]
      .map(line)
      .join('\n');
    expect(hostMountsToBind('/srv/node', mountinfo)).toEqual(['/data disk', '/work']);
  });

  it('writes a start script that fails with a StartError message, binds volumes and execs the command as the container user', () => {
    const script = startScript({
      root: '/n/root',
      upper: '/n/upper',
      work: '/n/work',
      hostMounts: ['/work'],
      mounts: [{ source: '/n/vol/data', target: '/var/lib/mysql', readOnly: false, file: false }],
      workingDir: '/data',
      identity: { uid: 999, gid: 999, groups: [999] },
      env: [
        { name: 'PATH', value: '/usr/local/bin:/usr/bin' },
        { name: 'A', value: "it's" },
      ],
      argv: ['redis-server', '--bind', '127.64.0.2'],
      setupErrorFile: '/n/setup-error',
      hostname: 'cache',
    });
    expect(script).toContain(`mount -t overlay overlay -o 'lowerdir=/,upperdir=/n/upper,workdir=/n/work' "$root"`);
    expect(script).toContain(`mount --bind '/n/vol/data' "$root"'/var/lib/mysql'`);
    expect(script).toContain(`exec: "redis-server": executable file not found in $PATH`);
    expect(script).toContain(
      `exec chroot "$root" setpriv --reuid=999 --regid=999 --groups=999 --pdeathsig=SIGKILL -- env -i --chdir='/data' 'PATH=/usr/local/bin:/usr/bin' ${shellQuote("A=it's")} 'redis-server' '--bind' '127.64.0.2'`,
    );
  });
});

describe('image files in the upper layer', () => {
  it('go through the symlinks of the lower layer, so a file in /bin does not hide /bin/sh', () => {
    expect(throughLowerSymlinks('/bin/mysqld_exporter')).toBe(`${realpathSync('/bin')}/mysqld_exporter`);
    expect(throughLowerSymlinks('/redis_exporter')).toBe('/redis_exporter');
    expect(throughLowerSymlinks('/no/such/dir/file')).toBe('/no/such/dir/file');
  });
});
