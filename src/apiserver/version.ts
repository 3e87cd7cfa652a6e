// The /version document (k8s.io/apimachinery/pkg/version.Info).

import { readFileSync } from 'node:fs';

export type VersionInfo = Record<string, string>;

/** upm-engine's own version (package.json). */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return '0.0.0';
  }
}

function buildFields(): VersionInfo {
  return {
    gitCommit: process.env['UPM_GIT_COMMIT'] ?? '',
    gitTreeState: '',
    buildDate: process.env['UPM_BUILD_DATE'] ?? '',
    goVersion: `node${process.versions.node}`,
    compiler: 'tsc',
    platform: `${process.platform}/${process.arch}`,
  };
}

/** The upm.io server's own version. */
export function versionInfo(): VersionInfo {
  const v = packageVersion();
  const [major, minor] = v.split('.');
  return { major, minor, gitVersion: `v${v}`, ...buildFields() };
}

/**
 * What a server that plays kube-apiserver answers: the Kubernetes version it emulates (so
 * kubectl's version-skew check is about Kubernetes), with upm-engine's version as the semver
 * build metadata of gitVersion, e.g. `v1.33.13+upm-engine.0.1.0`.
 */
export function kubernetesVersionInfo(kubernetesVersion: string): VersionInfo {
  const [major, minor] = kubernetesVersion.split('.');
  return {
    major,
    minor,
    emulationMajor: major,
    emulationMinor: minor,
    minCompatibilityMajor: major,
    minCompatibilityMinor: String(Number(minor) - 1),
    gitVersion: `v${kubernetesVersion}+upm-engine.${packageVersion()}`,
    ...buildFields(),
  };
}
