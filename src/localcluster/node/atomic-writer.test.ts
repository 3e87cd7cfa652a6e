import { lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeAtomically } from './atomic-writer.js';

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'upm-atomic-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const payload = (files: Record<string, string>, mode = 0o644) =>
  new Map(Object.entries(files).map(([k, v]) => [k, { data: Buffer.from(v), mode }]));

describe('the atomic writer', () => {
  it('lays files out as the kubelet does and swaps them with one rename', () => {
    const vol = join(dir, 'cm');
    expect(writeAtomically(vol, payload({ 'my.cnf': 'a', 'conf/x.cnf': 'x' }))).toBe(true);
    const data = readlinkSync(join(vol, '..data'));
    expect(data).toMatch(/^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.[0-9a-f]+$/);
    expect(readlinkSync(join(vol, 'my.cnf'))).toBe('..data/my.cnf');
    expect(readFileSync(join(vol, 'conf/x.cnf'), 'utf8')).toBe('x');
    expect(statSync(join(vol, 'my.cnf')).mode & 0o777).toBe(0o644);
    // Unchanged content writes nothing.
    expect(writeAtomically(vol, payload({ 'my.cnf': 'a', 'conf/x.cnf': 'x' }))).toBe(false);
    expect(writeAtomically(vol, payload({ 'my.cnf': 'b' }))).toBe(true);
    expect(readFileSync(join(vol, 'my.cnf'), 'utf8')).toBe('b');
    expect(() => lstatSync(join(vol, 'conf'))).toThrow();
    expect(readdirSync(vol).filter((n) => n.startsWith('..2'))).toHaveLength(1);
  });

  it('refuses paths that leave the volume', () => {
    expect(() => writeAtomically(join(dir, 'bad'), payload({ '../x': 'y' }))).toThrow(
      `invalid path "../x": must not contain '..'`,
    );
    expect(() => writeAtomically(join(dir, 'bad'), payload({ '/etc/x': 'y' }))).toThrow('must be a relative path');
  });
});
