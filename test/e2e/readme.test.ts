// The README's local walkthrough, copied from README.md itself and run as a newcomer would paste
// it: at the root of a checkout whose `npm start` is running (data under .upm/), with the default
// kubectl (1.32), each line in turn, stopping at the first that fails.

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubectlBinary, repoRoot, startEngine, type Engine } from './harness.js';

/** The ```sh block that follows the `<!-- walkthrough -->` marker in README.md. */
function readmeWalkthrough(readme: string): string {
  const marker = readme.indexOf('<!-- walkthrough -->');
  if (marker < 0) throw new Error('README.md has no <!-- walkthrough --> marker');
  const block = /```sh\n([\s\S]*?)\n```/.exec(readme.slice(marker));
  if (!block) throw new Error('no ```sh block after the walkthrough marker');
  return block[1]!;
}

let work: string;
let engine: Engine | undefined;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'upm-readme-'));
  engine = await startEngine({ dataDir: join(work, '.upm'), controllers: true }); // as npm start runs it
}, 60_000);

afterAll(async () => {
  await engine?.stop();
  rmSync(work, { recursive: true, force: true });
});

it('the walkthrough runs from top to bottom', async () => {
  const script = readmeWalkthrough(readFileSync(join(repoRoot, 'README.md'), 'utf8'));
  const bin = join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(kubectlBinary('1.32'), join(bin, 'kubectl'));
  const home = join(work, 'home');
  mkdirSync(home);
  // The walkthrough runs at the root of a checkout: it applies files of examples/.
  symlinkSync(join(repoRoot, 'examples'), join(work, 'examples'));
  const result = await new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    execFile(
      'bash',
      ['--norc', '--noprofile', '-euo', 'pipefail', '-c', script],
      {
        cwd: work,
        timeout: 120_000,
        env: { PATH: `${bin}:${process.env['PATH'] ?? ''}`, HOME: home },
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
  if (result.code !== 0)
    throw new Error(
      `the walkthrough failed (${result.code}):\n${result.stderr}\n${result.stdout}\n${engine!.logs().slice(-6000)}`,
    );
  expect(result.stdout).toMatch(/^Server Version: v1\.33\.\d+\+upm-engine\./m);
  expect(result.stdout).toContain('unitset.upm.io/orders-db serverside-applied');
  expect(result.stdout).toContain('unitset.upm.io/orders-db scaled');
  expect(result.stdout).toMatch(/^pod\/orders-db-2\s+\S+\s+Running/m);
  expect(result.stdout).toMatch(/^yes$/m);
  expect(result.stdout).toContain('namespace "team-a" deleted');
  expect(result.stderr).not.toMatch(/WARNING|error/i);
}, 150_000);
