import {
  containerCommand,
  defaultImageEntries,
  imageMatches,
  ImageTable,
  parseImageFile,
  parseImageReference,
} from './images.js';

describe('the image table', () => {
  it('parses references as a registry would', () => {
    expect(parseImageReference('redis:7')).toEqual({
      repository: 'docker.io/library/redis',
      familiar: 'redis',
      tag: '7',
    });
    expect(parseImageReference('bitnami/redis')).toMatchObject({ familiar: 'bitnami/redis', tag: 'latest' });
    expect(parseImageReference('quay.io/prometheus/mysqld-exporter:v0.15.1@sha256:ab')).toMatchObject({
      repository: 'quay.io/prometheus/mysqld-exporter',
      tag: 'v0.15.1',
      digest: 'sha256:ab',
    });
    expect(parseImageReference('localhost:5000/x')).toMatchObject({ repository: 'localhost:5000/x', tag: 'latest' });
  });

  it('matches patterns on the familiar or the full name', () => {
    expect(imageMatches('redis:*', parseImageReference('docker.io/library/redis:7.2.5'))).toBe(true);
    expect(imageMatches('mariadb:10.*', parseImageReference('mariadb:11.4'))).toBe(false);
    expect(imageMatches('mariadb', parseImageReference('mariadb:11.4'))).toBe(true);
  });

  it('knows mariadb, redis and valkey; mysql is not MariaDB; missing binaries make an image unavailable, with how to get them', () => {
    const table = new ImageTable(defaultImageEntries(), (path) => !path.includes('prometheus'));
    expect(table.resolve('mariadb:10.11.8')).toMatchObject({ kind: 'known', entry: { name: 'mariadb' } });
    expect(table.resolve('redis:7.2.5')).toMatchObject({ kind: 'known', entry: { name: 'redis' } });
    expect(table.resolve('valkey/valkey:8')).toMatchObject({ kind: 'known', entry: { name: 'valkey' } });
    expect(table.resolve('mysql:8.0.39')).toEqual({
      kind: 'unknown',
      reason: `image "mysql:8.0.39" is not in this node's image table`,
    });
    expect(table.resolve('prom/mysqld-exporter:v0.15.1')).toEqual({
      kind: 'unavailable',
      entry: expect.objectContaining({ name: 'mysqld-exporter' }),
      reason:
        'image "prom/mysqld-exporter:v0.15.1" runs /usr/bin/prometheus-mysqld-exporter, which is not installed on this machine (apt-get install prometheus-mysqld-exporter)',
    });
  });

  it('a file adds entries before the built-in ones; `like` copies one (mysql as MariaDB only when asked)', () => {
    const entries = parseImageFile(
      'images:\n  - name: mysql-as-mariadb\n    match: ["mysql:*"]\n    like: mariadb\n',
      defaultImageEntries(),
      'images.yaml',
    );
    const table = new ImageTable([...entries, ...defaultImageEntries()], () => true);
    expect(table.resolve('mysql:8.0.39')).toMatchObject({
      kind: 'known',
      entry: { name: 'mysql-as-mariadb', user: 'mysql' },
    });
    expect(() => parseImageFile('images:\n  - match: []\n', [], 'images.yaml')).toThrow(
      'images.yaml: images[0].match: at least one image pattern is required',
    );
    expect(() => parseImageFile('images:\n  - match: ["x"]\n    like: postgres\n', defaultImageEntries(), 'f')).toThrow(
      'f: images[0].like: no built-in entry "postgres"',
    );
  });

  it('command and args replace the image ENTRYPOINT and CMD as on a cluster', () => {
    const image = { entrypoint: ['docker-entrypoint.sh'], cmd: ['redis-server'] };
    expect(containerCommand({}, image)).toEqual(['docker-entrypoint.sh', 'redis-server']);
    expect(containerCommand({ args: ['--port', '7000'] }, image)).toEqual(['docker-entrypoint.sh', '--port', '7000']);
    expect(containerCommand({ command: ['sh', '-c'] }, image)).toEqual(['sh', '-c']);
    expect(containerCommand({ command: ['sh', '-c'], args: ['exit 1'] }, image)).toEqual(['sh', '-c', 'exit 1']);
  });
});
