// The /version document (k8s.io/apimachinery/pkg/version.Info).

import { readFileSync } from 'node:fs';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return '0.0.0';
  }
}

export function versionInfo(): Record<string, string> {
  const v = packageVersion();
  const [major, minor] = v.split('.');
  return {
    major,
    minor,
    gitVersion: `v${v}`,
    gitCommit: process.env['UPM_GIT_COMMIT'] ?? '',
    gitTreeState: '',
    buildDate: process.env['UPM_BUILD_DATE'] ?? '',
    goVersion: `node${process.versions.node}`,
    compiler: 'tsc',
    platform: `${process.platform}/${process.arch}`,
  };
}
