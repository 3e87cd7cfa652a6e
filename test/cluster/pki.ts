// Certificates and keys of a real control plane on loopback, issued with the repository's PKI
// helpers and written as files for the components' flags:
//   ca             cluster CA: kube-apiserver's serving cert and every client cert (--client-ca-file)
//   front-proxy-ca the aggregator's own CA (--requestheader-client-ca-file), which signs only
//                  front-proxy-client (--proxy-client-cert-file), as kubeadm keeps them apart
//   sa.key/sa.pub  service-account token signing key
//   upm-serving-ca the CA in the APIService's caBundle, which signs the upm.io server's certificate
//                  for <service>.<namespace>.svc

import { createPublicKey } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCA, generateKeySync, issueClientCert, issueServingCert, type CertKeyPair } from '../../src/pki/index.js';

export interface PemFiles {
  cert: string;
  key: string;
}

export interface ClientIdentity extends CertKeyPair {
  files: PemFiles;
}

export interface ControlPlanePKI {
  dir: string;
  ca: ClientIdentity;
  apiserver: PemFiles;
  frontProxyCA: ClientIdentity;
  frontProxyClient: PemFiles;
  serviceAccountKey: string;
  serviceAccountPublicKey: string;
  admin: ClientIdentity;
  controllerManager: ClientIdentity;
  scheduler: ClientIdentity;
  kwok: ClientIdentity;
  upmServingCA: ClientIdentity;
  upmServing: PemFiles;
}

/** The upm.io server's in-cluster names (config/apiservice/service.yaml). */
export const upmServiceNamespace = 'upm-system';
export const upmServiceName = 'upm-apiserver';

export function createControlPlanePKI(dir: string): ControlPlanePKI {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const write = (name: string, pair: CertKeyPair): ClientIdentity => {
    const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
    writeFileSync(files.cert, pair.certPem);
    writeFileSync(files.key, pair.keyPem, { mode: 0o600 });
    return { ...pair, files };
  };
  const ca = write('ca', createCA('kubernetes'));
  const apiserver = write(
    'apiserver',
    issueServingCert(ca, {
      commonName: 'kube-apiserver',
      dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
      ipAddresses: ['127.0.0.1', '10.0.0.1'],
    }),
  ).files;
  const frontProxyCA = write('front-proxy-ca', createCA('front-proxy-ca'));
  const frontProxyClient = write(
    'front-proxy-client',
    issueClientCert(frontProxyCA, { commonName: 'front-proxy-client' }),
  ).files;
  const serviceAccountKey = join(dir, 'sa.key');
  const serviceAccountPublicKey = join(dir, 'sa.pub');
  const saKey = generateKeySync();
  writeFileSync(serviceAccountKey, saKey, { mode: 0o600 });
  writeFileSync(serviceAccountPublicKey, createPublicKey(saKey).export({ type: 'spki', format: 'pem' }));
  const client = (name: string, user: string, groups: string[] = []) =>
    write(name, issueClientCert(ca, { commonName: user, organizations: groups }));
  const upmServingCA = write('upm-serving-ca', createCA('upm-apiserver-ca'));
  const upmServing = write(
    'upm-serving',
    issueServingCert(upmServingCA, {
      commonName: upmServiceName,
      dnsNames: [`${upmServiceName}.${upmServiceNamespace}.svc`, 'localhost'],
      ipAddresses: ['127.0.0.1'],
    }),
  ).files;
  return {
    dir,
    ca,
    apiserver,
    frontProxyCA,
    frontProxyClient,
    serviceAccountKey,
    serviceAccountPublicKey,
    admin: client('admin', 'kubernetes-admin', ['system:masters']),
    controllerManager: client('controller-manager', 'system:kube-controller-manager'),
    scheduler: client('scheduler', 'system:kube-scheduler'),
    kwok: client('kwok', 'kwok-controller', ['system:masters']),
    upmServingCA,
    upmServing,
  };
}
