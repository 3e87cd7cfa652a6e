// Authentication and authorization of the local control plane: bearer tokens (static and
// service-account), impersonation, RBAC over the stored RBAC objects with kube's bootstrap
// policy, and the TokenReview / SubjectAccessReview family of endpoints.
//
// Wiring (controlPlaneAuth does all of it):
//   const auth = controlPlaneAuth({ clientCAPem: ca.certPem, staticTokenFile, serviceAccounts: { signingKeyPem } });
//   const server = await startAPIServer({ ..., tls: { ..., clientCAPem: ca.certPem },
//     authenticators: auth.authenticators, authorizer: auth.authorizer, delegate: auth.delegate(aggregationProxy?),
//     resources: [...coreRegistrations(), ...auth.resources, ...] });
//   await initCoreResources(server.registry);
//   server.health.addReadinessCheck(auth.readinessCheck);
//   await auth.start(server.registry);    // bootstrap policy, informers, wait for sync
//   ...
//   auth.stop();

import { X509Authenticator, type Authenticator } from '../../apiserver/authentication/authenticator.js';
import type { HealthCheck } from '../../apiserver/health.js';
import type { RequestDelegate } from '../../apiserver/server.js';
import type { APIRegistry, ResourceRegistration } from '../../apiserver/registry/registry.js';
import { newControlPlaneAuthorizer, type ControlPlaneAuthorizer } from './authorizer.js';
import { ensureBootstrapPolicy, type BootstrapResult } from './bootstrap.js';
import { AuthEndpoints } from './endpoints.js';
import { ImpersonatingAuthenticator } from './impersonation.js';
import type { InformerOptions } from './informer.js';
import { StoredRBACSource } from './rbac-source.js';
import { installVirtualCreates, reviewRegistrations } from './reviews.js';
import { ServiceAccountCache } from './serviceaccounts.js';
import { TokenAuthenticator, type TokenAuthenticatorOptions } from './tokens.js';

export * from './definitions.js';
export * from './tokens.js';
export * from './reviews.js';
export * from './rbac-source.js';
export * from './bootstrap.js';
export * from './authorizer.js';
export * from './impersonation.js';
export * from './serviceaccounts.js';
export * from './endpoints.js';

export { StoreInformer, type InformerHandler, type InformerOptions } from './informer.js';

export interface ControlPlaneAuthOptions extends Omit<TokenAuthenticatorOptions, 'serviceAccounts'> {
  /** --client-ca-file: x509 client certificates are authenticated inside the impersonation
   * wrapper (the server's own x509 authenticator, tried after, then sees nothing new). */
  clientCAPem?: string;
  /** Service-account tokens (the existence check is wired to the stored ServiceAccounts unless
   * given); false disables them. */
  serviceAccounts?: TokenAuthenticatorOptions['serviceAccounts'];
  /** Mirror of the server's anonymousAuth (see ImpersonationOptions). */
  anonymousAuth?: boolean;
  /** Extra authenticators tried first (e.g. a front proxy), then x509, then tokens. */
  authenticators?: Authenticator[];
  /** Create the bootstrap RBAC policy in start(); default true. */
  bootstrap?: boolean;
  informers?: InformerOptions;
}

export interface ControlPlaneAuth {
  tokens: TokenAuthenticator;
  rbac: StoredRBACSource;
  serviceAccounts: ServiceAccountCache;
  authorizer: ControlPlaneAuthorizer;
  /** For startAPIServer's `authenticators`. */
  authenticators: Authenticator[];
  /** The review kinds, for startAPIServer's `resources`. */
  resources: ResourceRegistration[];
  /** For startAPIServer's `delegate`: answers review POSTs sent as protobuf (kubectl 1.33's
   * `auth can-i`) and TokenRequests (`kubectl create token`), then hands everything else to
   * `next`. */
  delegate(next?: RequestDelegate): RequestDelegate;
  /** For `server.health.addReadinessCheck`: fails until the RBAC and ServiceAccount caches have
   * synced (kube's `poststarthook/rbac/bootstrap-roles` and informer-sync checks). */
  readinessCheck: HealthCheck;
  /** After startAPIServer and initCoreResources: installs the review handlers, creates the
   * bootstrap policy, starts the RBAC and ServiceAccount informers and waits for their sync. */
  start(registry: APIRegistry): Promise<BootstrapResult>;
  stop(): void;
}

export function controlPlaneAuth(opts: ControlPlaneAuthOptions = {}): ControlPlaneAuth {
  const rbac = new StoredRBACSource(undefined, opts.informers);
  const serviceAccounts = new ServiceAccountCache(undefined, opts.informers);
  const authorizer = newControlPlaneAuthorizer(rbac);
  // Until start() knows whether ServiceAccounts are served, no service-account token is valid.
  let accounts: 'unknown' | 'stored' | 'unchecked' = 'unknown';
  const serviceAccountExists = (ns: string, name: string, uid: string | undefined) =>
    accounts === 'stored' ? serviceAccounts.exists(ns, name, uid) : accounts === 'unchecked';
  const sa = opts.serviceAccounts === false ? false : { serviceAccountExists, ...(opts.serviceAccounts ?? {}) };
  const tokens = new TokenAuthenticator({ ...opts, serviceAccounts: sa });
  // kube-apiserver's order: front proxy, client certificates, then bearer tokens.
  const inner: Authenticator[] = [
    ...(opts.authenticators ?? []),
    ...(opts.clientCAPem ? [new X509Authenticator(opts.clientCAPem)] : []),
    tokens,
  ];
  const authenticators = [
    new ImpersonatingAuthenticator(inner, authorizer.chain, { anonymousAuth: opts.anonymousAuth }),
  ];
  const resources = reviewRegistrations({ tokens, authorizer });
  let started: APIRegistry | undefined;
  return {
    tokens,
    rbac,
    serviceAccounts,
    authorizer,
    authenticators,
    resources,
    readinessCheck: {
      name: 'rbac-bootstrap',
      check: () => {
        if (accounts === 'unknown') throw new Error('the RBAC and ServiceAccount caches have not synced');
      },
    },
    delegate: (next) =>
      new AuthEndpoints({
        tokens: sa === false ? undefined : tokens,
        registry: () => started,
        next,
      }),
    async start(registry) {
      started = registry;
      installVirtualCreates(registry, resources);
      const result = opts.bootstrap === false ? { created: [] } : await ensureBootstrapPolicy(registry);
      rbac.start(registry);
      const served = registry.lookup('', 'v1', 'serviceaccounts') !== undefined;
      if (served) serviceAccounts.start(registry);
      await Promise.all([rbac.synced(), served ? serviceAccounts.synced() : undefined]);
      accounts = served ? 'stored' : 'unchecked';
      return result;
    },
    stop() {
      rbac.stop();
      serviceAccounts.stop();
    },
  };
}
