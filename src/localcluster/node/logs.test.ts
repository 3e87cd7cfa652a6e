import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { LogWriter, rfc3339NanoFixed, streamLog } from './logs.js';

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'upm-logs-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function read(path: string, opts: Parameters<typeof streamLog>[2]): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  await streamLog(path, out, opts);
  return text;
}

describe('container logs', () => {
  it('are written in CRI format and read back with tail, since, timestamps and limitBytes', async () => {
    const path = join(dir, '0.log');
    const w = new LogWriter(path);
    w.write('stdout', 'one\ntwo\nthr');
    w.write('stderr', 'err\n');
    w.write('stdout', 'ee\n');
    await w.close();
    expect(await read(path, {})).toBe('one\ntwo\nerr\nthree\n');
    expect(await read(path, { tailLines: 2 })).toBe('err\nthree\n');
    expect(await read(path, { limitBytes: 6 })).toBe('one\ntw');
    expect(await read(path, { timestamps: true, tailLines: 1 })).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z three\n$/,
    );
    expect(await read(path, { sinceMs: Date.now() + 60_000 })).toBe('');
  });

  it('a partial line (P) joins the next entry, and tail counts whole lines', async () => {
    const path = join(dir, 'p.log');
    writeFileSync(
      path,
      [
        '2026-01-01T00:00:00.000000000Z stdout P ab',
        '2026-01-01T00:00:00.000000001Z stdout F cd',
        '2026-01-01T00:00:01.000000000Z stdout F ef',
        '',
      ].join('\n'),
    );
    expect(await read(path, {})).toBe('abcd\nef\n');
    expect(await read(path, { tailLines: 2 })).toBe('abcd\nef\n');
    expect(await read(path, { tailLines: 1 })).toBe('ef\n');
  });

  it('follow ends at the end of the file once the container stopped', async () => {
    const path = join(dir, 'f.log');
    const w = new LogWriter(path);
    w.write('stdout', 'first\n');
    let running = true;
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const done = streamLog(path, out, { follow: true }, () => running);
    await new Promise((r) => setTimeout(r, 300));
    w.write('stdout', 'second\n');
    await w.close();
    running = false;
    await done;
    expect(text).toBe('first\nsecond\n');
  });

  it('timestamps always have nine fraction digits', () => {
    expect(rfc3339NanoFixed(new Date('2026-01-02T03:04:05.678Z'), 12)).toBe('2026-01-02T03:04:05.678000012Z');
  });
});
