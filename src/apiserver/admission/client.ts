// Calls one admission webhook over HTTPS as kube-apiserver does (k8s.io/apiserver
// pkg/util/webhook client_config.go, admission/plugin/webhook/{mutating,validating}/dispatcher.go,
// request/admissionreview.go):
// - URL: clientConfig.url, or https://<name>.<namespace>.svc:<port><path> for a service
//   reference, dialled at the address resolveService gives and verified as
//   `<name>.<namespace>.svc` (SNI and certificate name);
// - trust: caBundle (PEM, base64 in JSON), or the system roots when it is absent;
// - deadline: timeoutSeconds for the whole call (service resolution, connect, TLS, response),
//   advertised to the webhook as `?timeout=<n>s`;
// - the response must be an AdmissionReview of the version sent, with the request's uid.
// Every failure is a WebhookCallError whose message is kube's ErrCallingWebhook text:
// `failed calling webhook "<name>": failed to call webhook: Post "<url>": <cause>` for transport
// failures and `failed calling webhook "<name>": received invalid webhook response: <why>` for
// malformed answers. Whether that fails the request is the caller's failurePolicy decision.

import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { isPlainObject } from '../../machinery/object.js';
import {
  ADMISSION_GROUP,
  DEFAULT_SERVICE_PORT,
  DEFAULT_TIMEOUT_SECONDS,
  MAX_TIMEOUT_SECONDS,
  MIN_TIMEOUT_SECONDS,
  SUPPORTED_REVIEW_VERSIONS,
  decodeCABundle,
  isIPHost,
  type AdmissionRequest,
  type AdmissionResponse,
  type AdmissionReview,
  type WebhookClientConfig,
} from './types.js';

export interface ServiceTarget {
  host: string;
  port: number;
}

/** Where to dial a Service port. The local control plane and tests map Services to loopback. */
export type ServiceResolver = (namespace: string, name: string, port: number) => ServiceTarget | Promise<ServiceTarget>;

/** In-cluster default: the Service's DNS name, as kube-apiserver's default resolver builds it. */
export const clusterDNSServiceResolver: ServiceResolver = (namespace, name, port) => ({
  host: `${name}.${namespace}.svc`,
  port,
});

/** A failure to call a webhook or to understand its answer (kube's ErrCallingWebhook). */
export class WebhookCallError extends Error {
  constructor(
    readonly webhookName: string,
    /** The cause without the `failed calling webhook` prefix. */
    readonly reason: string,
  ) {
    super(`failed calling webhook "${webhookName}": ${reason}`);
    this.name = 'WebhookCallError';
  }
}

/** What the client needs of a webhook. */
export interface WebhookTarget {
  name: string;
  clientConfig: WebhookClientConfig;
  timeoutSeconds?: number;
  admissionReviewVersions?: string[];
}

export interface WebhookEndpoint {
  /** The URL as kube-apiserver names it in errors (service DNS name, not the resolved address). */
  url: string;
  host: string;
  port: number;
  /** Request path and query (`/mutate?timeout=10s`). */
  path: string;
  /** TLS server name to send and verify; undefined for IP literals (checked against IP SANs). */
  servername?: string;
  hostHeader: string;
}

/** A verified webhook answer. */
export interface WebhookResult {
  reviewVersion: string;
  allowed: boolean;
  status?: AdmissionResponse['status'];
  /** Decoded bytes of response.patch (not yet parsed). */
  patch?: Buffer;
  patchType?: string;
  warnings: string[];
  auditAnnotations: Record<string, string>;
}

export interface WebhookClientOptions {
  resolveService?: ServiceResolver;
  userAgent?: string;
  /** Responses larger than this are call failures. Default 16 MiB. */
  maxResponseBytes?: number;
}

const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

function clampTimeout(seconds: number | undefined): number {
  const s = seconds ?? DEFAULT_TIMEOUT_SECONDS;
  if (!Number.isFinite(s)) return DEFAULT_TIMEOUT_SECONDS;
  return Math.min(MAX_TIMEOUT_SECONDS, Math.max(MIN_TIMEOUT_SECONDS, Math.ceil(s)));
}

function joinHostPort(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The AdmissionReview version to send: the first of admissionReviewVersions this server knows. */
export function chooseReviewVersion(versions: string[] | undefined): string | undefined {
  return (versions ?? []).find((v) => (SUPPORTED_REVIEW_VERSIONS as readonly string[]).includes(v));
}

const unknownAuthorityCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'INVALID_CA',
]);

/** Go's net/http + crypto/x509 wording for the common Node errors. */
function describeTransportError(
  err: NodeJS.ErrnoException & { cert?: { subjectaltname?: string }; host?: string; reason?: string },
  addr: string,
  servername: string,
): string {
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED') return `dial tcp ${addr}: connect: connection refused`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return `dial tcp: lookup ${addr.replace(/:\d+$/, '')}: no such host`;
  if (code === 'EHOSTUNREACH') return `dial tcp ${addr}: connect: no route to host`;
  if (code === 'ECONNRESET') return `read tcp ${addr}: read: connection reset by peer`;
  if (unknownAuthorityCodes.has(code))
    return 'tls: failed to verify certificate: x509: certificate signed by unknown authority';
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
    return 'tls: failed to verify certificate: x509: certificate has expired or is not yet valid';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const names = (err.cert?.subjectaltname ?? '')
      .split(',')
      .map((s) => s.trim().replace(/^(DNS|IP Address):/, ''))
      .filter(Boolean);
    return `tls: failed to verify certificate: x509: certificate is valid for ${names.join(', ')}, not ${err.host ?? servername}`;
  }
  return err.message || String(err);
}

/** client-go's text for a non-2xx answer that is not a Status (errors.NewGenericServerResponse). */
function describeHTTPStatus(code: number, body: Buffer): string {
  try {
    const s = JSON.parse(body.toString('utf8')) as unknown;
    if (isPlainObject(s) && s['kind'] === 'Status' && typeof s['message'] === 'string' && s['message'])
      return s['message'];
  } catch {
    // not JSON
  }
  switch (code) {
    case 404:
      return 'the server could not find the requested resource';
    case 500: {
      const text = body.toString('utf8').trim().slice(0, 1024);
      return `an error on the server (${JSON.stringify(text || 'unknown')}) has prevented the request from succeeding`;
    }
    case 503:
      return 'the server is currently unable to handle the request';
    case 504:
      return 'the server was unable to return a response in the time allotted, but may still be processing the request';
    default:
      return `the server responded with the status code ${code} but did not return more information`;
  }
}

class DeadlineExceeded extends Error {}
class StaleConnection extends Error {}

function strictBase64(s: string): Buffer | string {
  // Go's encoding/base64 StdEncoding, as encoding/json decodes []byte: padding required; CR/LF ignored.
  const compact = s.replace(/[\r\n]/g, '');
  const bad = compact.search(/[^A-Za-z0-9+/=]/);
  if (bad >= 0) return `illegal base64 data at input byte ${bad}`;
  const pad = compact.indexOf('=');
  if (
    compact.length % 4 !== 0 ||
    (pad >= 0 && pad < compact.length - 2) ||
    (pad >= 0 && /[^=]/.test(compact.slice(pad)))
  ) {
    return `illegal base64 data at input byte ${pad >= 0 ? pad : compact.length - (compact.length % 4)}`;
  }
  return Buffer.from(compact, 'base64');
}

export class WebhookClient {
  private readonly resolveService: ServiceResolver;
  private readonly userAgent: string;
  private readonly maxResponseBytes: number;
  // Connections are pooled per (address, servername, CA bundle): Agent keys include all three.
  private readonly agent = new https.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16 });

  constructor(opts: WebhookClientOptions = {}) {
    this.resolveService = opts.resolveService ?? clusterDNSServiceResolver;
    this.userAgent = opts.userAgent ?? 'upm-engine-admission';
    this.maxResponseBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  }

  /** Closes pooled connections. */
  close(): void {
    this.agent.destroy();
  }

  /** The URL, dial address and TLS name for a webhook (service references are resolved). */
  async endpoint(w: WebhookTarget): Promise<WebhookEndpoint> {
    const cc = w.clientConfig ?? {};
    const query = `timeout=${clampTimeout(w.timeoutSeconds)}s`;
    if (cc.url !== undefined) {
      const u = new URL(cc.url);
      if (u.protocol !== 'https:')
        throw new Error(
          `unsupported URL scheme ${JSON.stringify(u.protocol.replace(/:$/, ''))}: only https is allowed`,
        );
      const host = u.hostname.replace(/^\[|\]$/g, '');
      const port = u.port ? Number(u.port) : 443;
      u.search = u.search ? `${u.search}&${query}` : `?${query}`;
      u.hash = '';
      return {
        url: u.toString(),
        host,
        port,
        path: `${u.pathname || '/'}${u.search}`,
        servername: isIPHost(host) ? undefined : host,
        hostHeader: u.host,
      };
    }
    if (cc.service) {
      const s = cc.service;
      const port = s.port ?? DEFAULT_SERVICE_PORT;
      const serverName = `${s.name}.${s.namespace}.svc`;
      const hostPort = joinHostPort(serverName, port);
      const path = s.path || '/';
      const target = await this.resolveService(s.namespace, s.name, port);
      return {
        url: `https://${hostPort}${path}?${query}`,
        host: target.host,
        port: target.port,
        path: `${path}?${query}`,
        servername: serverName,
        hostHeader: hostPort,
      };
    }
    throw new Error('webhook clientConfig has neither url nor service');
  }

  /**
   * Sends `request` (its uid is the review's uid) and verifies the answer. Throws
   * WebhookCallError for every call failure; never throws anything else.
   */
  async review(w: WebhookTarget, request: AdmissionRequest, mutating: boolean): Promise<WebhookResult> {
    const fail = (reason: string): WebhookCallError => new WebhookCallError(w.name, reason);
    const version = chooseReviewVersion(w.admissionReviewVersions);
    if (!version) {
      throw fail(
        `could not create admission objects: webhook does not accept known AdmissionReview versions (${SUPPORTED_REVIEW_VERSIONS.join(', ')})`,
      );
    }
    const cc = w.clientConfig ?? {};
    let ca: string | undefined;
    if (cc.caBundle !== undefined && cc.caBundle !== '') {
      ca = decodeCABundle(cc.caBundle);
      if (!ca)
        throw fail('could not get REST client: unable to load root certificates: unable to parse bytes as PEM block');
    }
    const apiVersion = `${ADMISSION_GROUP}/${version}`;
    const review: AdmissionReview = { apiVersion, kind: 'AdmissionReview', request };
    const body = Buffer.from(JSON.stringify(review), 'utf8');

    const timeoutMs = clampTimeout(w.timeoutSeconds) * 1000;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DeadlineExceeded('context deadline exceeded')), timeoutMs);
    let url = webhookURL(w);
    let answer: { status: number; body: Buffer };
    try {
      let ep: WebhookEndpoint;
      try {
        ep = await Promise.race([this.endpoint(w), abortPromise(controller.signal)]);
      } catch (err) {
        if (err instanceof DeadlineExceeded)
          throw fail(`failed to call webhook: Post ${JSON.stringify(url)}: context deadline exceeded`);
        throw fail(`failed to call webhook: Post ${JSON.stringify(url)}: ${(err as Error).message ?? String(err)}`);
      }
      url = ep.url;
      try {
        try {
          answer = await this.post(ep, body, ca, controller.signal);
        } catch (err) {
          // A pooled connection the server closed while idle: send once more on a new one, as
          // Go's transport does for requests that never reached the server.
          if (!(err instanceof StaleConnection)) throw err;
          answer = await this.post(ep, body, ca, controller.signal);
        }
      } catch (err) {
        if (err instanceof DeadlineExceeded || controller.signal.aborted)
          throw fail(`failed to call webhook: Post ${JSON.stringify(url)}: context deadline exceeded`);
        throw fail(
          `failed to call webhook: Post ${JSON.stringify(url)}: ${describeTransportError(err as NodeJS.ErrnoException, joinHostPort(ep.host, ep.port), ep.servername ?? ep.host)}`,
        );
      }
    } finally {
      clearTimeout(timer);
    }

    if (answer.status < 200 || answer.status > 299)
      throw fail(`failed to call webhook: ${describeHTTPStatus(answer.status, answer.body)}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.body.toString('utf8'));
    } catch (err) {
      throw fail(`failed to call webhook: ${(err as Error).message}`);
    }
    return verifyAdmissionResponse(w.name, version, request.uid, mutating, parsed);
  }

  private post(
    ep: WebhookEndpoint,
    body: Buffer,
    ca: string | undefined,
    signal: AbortSignal,
  ): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      let settled = false;
      let responded = false;
      const done = (err: unknown, value?: { status: number; body: Buffer }): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(value!);
      };
      const onAbort = (): void => {
        req.destroy();
        done(signal.reason ?? new DeadlineExceeded('context deadline exceeded'));
      };
      const req = https.request({
        host: ep.host,
        port: ep.port,
        method: 'POST',
        path: ep.path,
        headers: {
          Host: ep.hostHeader,
          'Content-Type': 'application/json',
          Accept: 'application/json, */*',
          'Content-Length': String(body.length),
          'User-Agent': this.userAgent,
        },
        ...(ca ? { ca } : {}),
        ...(ep.servername ? { servername: ep.servername } : {}),
        agent: this.agent,
      });
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err: NodeJS.ErrnoException) => {
        const stale = req.reusedSocket && !responded && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
        done(stale ? new StaleConnection(err.message) : err);
      });
      req.on('response', (res: IncomingMessage) => {
        responded = true;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > this.maxResponseBytes) {
            req.destroy();
            done(new Error(`response body larger than ${this.maxResponseBytes} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => done(undefined, { status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', (err) => done(err));
        res.on('aborted', () => done(new Error('unexpected EOF')));
      });
      if (signal.aborted) onAbort();
      else req.end(body);
    });
  }
}

/** The URL kube-apiserver posts to (and names in errors), before any service resolution. */
export function webhookURL(w: WebhookTarget): string {
  const cc = w.clientConfig ?? {};
  const query = `timeout=${clampTimeout(w.timeoutSeconds)}s`;
  if (cc.url !== undefined) {
    try {
      const u = new URL(cc.url);
      u.search = u.search ? `${u.search}&${query}` : `?${query}`;
      u.hash = '';
      return u.toString();
    } catch {
      return cc.url;
    }
  }
  if (cc.service)
    return `https://${joinHostPort(`${cc.service.name}.${cc.service.namespace}.svc`, cc.service.port ?? DEFAULT_SERVICE_PORT)}${cc.service.path || '/'}?${query}`;
  return '';
}

function abortPromise(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/**
 * request.VerifyAdmissionResponse plus the type checks Go's JSON decoding makes. v1 answers must
 * be `admission.k8s.io/v1` AdmissionReviews echoing the uid; v1beta1 answers are not checked for
 * uid or kind (as kube), and a v1beta1 patch is always JSONPatch.
 */
export function verifyAdmissionResponse(
  webhookName: string,
  version: string,
  uid: string,
  mutating: boolean,
  parsed: unknown,
): WebhookResult {
  const decodeFail = (why: string): WebhookCallError =>
    new WebhookCallError(webhookName, `failed to call webhook: ${why}`);
  const invalid = (why: string): WebhookCallError =>
    new WebhookCallError(webhookName, `received invalid webhook response: ${why}`);
  if (!isPlainObject(parsed))
    throw decodeFail('json: cannot unmarshal the response into an AdmissionReview: not a JSON object');
  const r = parsed['response'];
  if (r === undefined || r === null) throw invalid('webhook response was absent');
  if (!isPlainObject(r))
    throw decodeFail(
      'json: cannot unmarshal response into Go struct field AdmissionReview.response of type v1.AdmissionResponse',
    );
  const typeChecks: [string, (v: unknown) => boolean, string][] = [
    ['uid', (v) => typeof v === 'string', 'types.UID'],
    ['allowed', (v) => typeof v === 'boolean', 'bool'],
    ['patch', (v) => typeof v === 'string', '[]uint8'],
    ['patchType', (v) => typeof v === 'string', 'v1.PatchType'],
    ['status', (v) => isPlainObject(v), 'v1.Status'],
    ['warnings', (v) => Array.isArray(v) && v.every((x) => typeof x === 'string'), '[]string'],
    [
      'auditAnnotations',
      (v) => isPlainObject(v) && Object.values(v).every((x) => typeof x === 'string'),
      'map[string]string',
    ],
  ];
  for (const [field, ok, goType] of typeChecks) {
    const v = r[field];
    if (v !== undefined && v !== null && !ok(v))
      throw decodeFail(
        `json: cannot unmarshal ${JSON.stringify(v)} into Go struct field AdmissionResponse.response.${field} of type ${goType}`,
      );
  }
  let patch: Buffer | undefined;
  if (typeof r['patch'] === 'string' && r['patch'] !== '') {
    const b = strictBase64(r['patch']);
    if (typeof b === 'string') throw decodeFail(b);
    patch = b;
  }
  const hasPatch = patch !== undefined && patch.length > 0;
  const patchTypeSet = r['patchType'] !== undefined && r['patchType'] !== null;
  let patchType: string | undefined;

  if (version === 'v1') {
    const gotUID = typeof r['uid'] === 'string' ? r['uid'] : '';
    if (gotUID !== uid) throw invalid(`expected response.uid=${JSON.stringify(uid)}, got ${JSON.stringify(gotUID)}`);
    const apiVersion = typeof parsed['apiVersion'] === 'string' ? parsed['apiVersion'] : '';
    const kind = typeof parsed['kind'] === 'string' ? parsed['kind'] : '';
    if (apiVersion !== `${ADMISSION_GROUP}/v1` || kind !== 'AdmissionReview') {
      throw invalid(
        `expected webhook response of ${ADMISSION_GROUP}/v1, Kind=AdmissionReview, got ${apiVersion}, Kind=${kind}`,
      );
    }
    if (mutating) {
      if (hasPatch && !patchTypeSet) throw invalid('webhook returned response.patch but not response.patchType');
      if (!hasPatch && patchTypeSet) throw invalid('webhook returned response.patchType but not response.patch');
      if (patchTypeSet) {
        patchType = r['patchType'] as string;
        if (patchType === '') throw invalid(`webhook returned invalid response.patchType of ""`);
      }
    } else {
      if (hasPatch) throw invalid('validating webhook may not return response.patch');
      if (patchTypeSet) throw invalid('validating webhook may not return response.patchType');
    }
  } else if (mutating && hasPatch) {
    patchType = 'JSONPatch';
  }

  const result: WebhookResult = {
    reviewVersion: version,
    allowed: r['allowed'] === true,
    warnings: (r['warnings'] as string[] | undefined) ?? [],
    auditAnnotations: (r['auditAnnotations'] as Record<string, string> | undefined) ?? {},
  };
  if (isPlainObject(r['status'])) result.status = r['status'] as AdmissionResponse['status'];
  if (mutating && hasPatch) {
    result.patch = patch;
    result.patchType = patchType;
  }
  return result;
}
