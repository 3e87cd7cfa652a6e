// The table of subcommands: what their --help shows, their flags and defaults, and their validation.

import { resolve } from 'node:path';
import { commandHelp, InvalidOptionsError, parseCommandLine, programHelp } from './command.js';
import { commands } from './commands.js';

function command(name: string) {
  const c = commands.find((c) => c.name === name);
  if (!c) throw new Error(`no command ${name}`);
  return c;
}

function validationProblems(name: string, argv: string[]): string[] {
  try {
    parseCommandLine(command(name), argv);
  } catch (err) {
    if (err instanceof InvalidOptionsError) return err.problems;
    throw err;
  }
  return [];
}

describe('the commands table', () => {
  it('lists every command with its summary in the top-level help', () => {
    const help = programHelp(commands);
    expect(commands.map((c) => c.name)).toEqual(['local', 'apiserver', 'controllers', 'webhooks', 'node']);
    const rows = help.split('\n').filter((line) => /^ {2}\S/.test(line));
    expect(rows.map((line) => line.trim().split(/ {3,}/))).toEqual(commands.map((c) => [c.name, c.summary]));
  });

  it.each(commands.map((c) => [c.name, c] as const))('%s --help lists every one of its flags', (_, c) => {
    const help = commandHelp(c);
    const listed = [...help.matchAll(/^ {2}(?:-h, )?--([a-z-]+)/gm)].map((m) => m[1]);
    expect(listed).toEqual([...Object.keys(c.flags), 'help']);
  });

  it('keeps the flags of apiserver, named as k8s.io/apiserver names them', () => {
    expect(Object.keys(command('apiserver').flags).sort()).toEqual(
      [
        'secure-port',
        'bind-address',
        'tls-cert-file',
        'tls-private-key-file',
        'client-ca-file',
        'anonymous-auth',
        'enable-garbage-collector',
        'requestheader-client-ca-file',
        'requestheader-allowed-names',
        'authentication-kubeconfig',
        'authentication-skip-lookup',
        'authorization-kubeconfig',
        'kubeconfig',
        'disable-admission-plugins',
        'storage',
        'etcd-prefix',
        'etcd-cafile',
        'etcd-certfile',
        'etcd-keyfile',
        'compaction-interval',
        'compaction-min-retained-revisions',
        'watch-bookmark-interval',
        'audit-log-path',
        'audit-policy-file',
        'log-level',
        'log-format',
      ].sort(),
    );
  });

  it('keeps the defaults of apiserver', () => {
    expect(parseCommandLine(command('apiserver'), ['--tls-cert-file=c', '--tls-private-key-file=k'])).toEqual({
      securePort: 8443,
      bindAddress: '0.0.0.0',
      tlsCertFile: 'c',
      tlsPrivateKeyFile: 'k',
      clientCAFile: undefined,
      anonymousAuth: false,
      garbageCollector: false,
      requestHeaderCAFile: undefined,
      requestHeaderAllowedNames: ['front-proxy-client'],
      authenticationKubeconfig: undefined,
      authenticationSkipLookup: false,
      authorizationKubeconfig: undefined,
      kubeconfig: undefined,
      disableAdmissionPlugins: [],
      storage: 'sqlite:upm.db',
      etcd: { prefix: '/upm' },
      compaction: { intervalMs: 300_000, minRetainedRevisions: 1000 },
      bookmarkIntervalMs: 60_000,
      audit: { logPath: undefined, policyFile: undefined },
      logging: { level: 'info', format: 'auto' },
    });
  });

  it('keeps the flags and defaults of local; --storage defaults to upm.db in --data-dir', () => {
    expect(parseCommandLine(command('local'), [])).toEqual({
      dataDir: resolve('.upm'),
      port: 6443,
      bindAddress: '127.0.0.1',
      standalone: false,
      controllers: true,
      webhooks: true,
      storage: `sqlite:${resolve('.upm', 'upm.db')}`,
      compaction: { intervalMs: 300_000, minRetainedRevisions: 1000 },
      bookmarkIntervalMs: 60_000,
      node: {
        enabled: true,
        leaseDurationMs: 40_000,
        podCIDR: expect.stringMatching(/^127\.(6[4-9]|[78]\d|9[0-5])\.0\.0\/16$/),
      },
      serviceCIDR: expect.stringMatching(/^127\.(9[6-9]|1[01]\d|12[0-7])\.0\.0\/16$/),
      audit: { logPath: undefined, policyFile: undefined },
      logging: { level: 'info', format: 'auto' },
    });
    expect(parseCommandLine(command('local'), ['--simulate-pods-only', '--node-name=db-host'])).toMatchObject({
      node: { enabled: false, name: 'db-host' },
    });
    expect(parseCommandLine(command('local'), ['--data-dir=/srv/upm'])).toMatchObject({
      dataDir: '/srv/upm',
      storage: 'sqlite:/srv/upm/upm.db',
    });
  });

  it('keeps the defaults of webhooks; --webhooks=false leaves them out of local', () => {
    expect(parseCommandLine(command('webhooks'), [])).toEqual({
      kubeconfig: undefined,
      securePort: 9443,
      bindAddress: '0.0.0.0',
      namespace: 'upm-system',
      serviceName: 'upm-webhooks',
      certSecret: 'upm-webhooks-certs',
      certValidityMs: 365 * 24 * 3_600_000,
      certRenewBeforeMs: undefined,
      extraHosts: [],
      tls: undefined,
      register: true,
      webhookURL: undefined,
      injectionFailurePolicy: 'Ignore',
      shutdownDelayMs: 0,
      logging: { level: 'info', format: 'auto' },
    });
    expect(parseCommandLine(command('webhooks'), ['--register=false'])).toMatchObject({ register: false });
    expect(parseCommandLine(command('local'), ['--webhooks=false'])).toMatchObject({ webhooks: false });
  });

  it('webhooks reports every invalid option at once', () => {
    expect(
      validationProblems('webhooks', [
        '--secure-port=70000',
        '--injection-failure-policy=Maybe',
        '--tls-cert-file=c',
        '--cert-validity=1h',
        '--cert-renew-before=2h',
        '--webhook-url=http://x/y',
      ]),
    ).toEqual([
      '--secure-port must be between 0 and 65535 (0 picks a free port), got 70000',
      '--injection-failure-policy must be Fail or Ignore, not "Maybe"',
      '--tls-cert-file, --tls-private-key-file and --tls-ca-file go together',
      '--cert-renew-before must be shorter than --cert-validity',
      '--webhook-url must be https://host[:port], without a path',
    ]);
  });

  it('apiserver reports every invalid option at once', () => {
    expect(
      validationProblems('apiserver', [
        '--secure-port=65536',
        '--storage=etcd:127.0.0.1:2379',
        '--compaction-min-retained-revisions=-1',
        '--log-level=loud',
        '--disable-admission-plugins=ValidatingAdmissionPolicy,NamespaceAutoProvision',
      ]),
    ).toEqual([
      '--secure-port must be between 0 and 65535 (0 picks a free port), got 65536',
      '--tls-cert-file is required',
      '--tls-private-key-file is required',
      '--storage: "127.0.0.1:2379" is not an etcd endpoint URL (http://host:port or https://host:port)',
      '--compaction-min-retained-revisions must not be negative, got -1',
      '--log-level must be one of trace, debug, info, warn, error, fatal, silent, got "loud"',
      '--disable-admission-plugins: unknown plugin "NamespaceAutoProvision" (known: NamespaceLifecycle, MutatingAdmissionWebhook, ValidatingAdmissionPolicy, ValidatingAdmissionWebhook)',
    ]);
  });

  it('local reports every invalid option at once', () => {
    expect(validationProblems('local', ['--port=-1', '--storage=mysql:x', '--log-format=xml'])).toEqual([
      '--port must be between 0 and 65535 (0 picks a free port), got -1',
      'unknown storage backend "mysql": use sqlite:PATH or etcd:URL[,URL...]',
      '--log-format must be json, text or auto, got "xml"',
    ]);
  });

  it('node requires a kubeconfig and reports every invalid option at once', () => {
    expect(
      validationProblems('node', ['--pod-cidr=10.0.0.0/16', '--node-name=Bad_Name', '--node-images=/nonexistent.yaml']),
    ).toEqual([
      '--kubeconfig is required',
      '--node-images: /nonexistent.yaml does not exist',
      '--node-name must be a lower case DNS subdomain, got "Bad_Name"',
      '--pod-cidr must be inside 127.0.0.0/8 (only loopback addresses are used), got "10.0.0.0/16"',
    ]);
  });
});
