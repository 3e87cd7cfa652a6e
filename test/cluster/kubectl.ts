// The real kubectl binaries (kubectl.1.27 … kubectl.1.33 beside the `kubectl` on PATH).

import { execFile } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  input?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

export function kubectlBinary(version: string): string {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    const candidate = join(dir, 'kubectl');
    if (!existsSync(candidate)) continue;
    const path = join(dirname(realpathSync(candidate)), `kubectl.${version}`);
    if (!existsSync(path)) throw new Error(`${path} does not exist`);
    return path;
  }
  throw new Error('kubectl is not on PATH');
}

/** Runs kubectl `version` with a kubeconfig and a discovery/OpenAPI cache directory. */
export function runKubectl(
  version: string,
  kubeconfig: string,
  cacheDir: string,
  args: string[],
  o: KubectlOptions = {},
): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const p = execFile(
      kubectlBinary(version),
      ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir, ...args],
      { env: { ...process.env, ...(o.env ?? {}) }, timeout: o.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
    p.stdin!.end(o.input ?? '');
  });
}
