// Auth endpoints the generic resource handler cannot serve, plugged into the server as its
// RequestDelegate (which runs after authentication and authorization, so RBAC still decides):
// TokenRequest, `POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token` (`kubectl create
// token`), a subresource the resource handler does not have. Reviews (JSON, YAML or protobuf)
// take the resource handler's path.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeObjectBody, readBody, writeError, writeJSON } from '../../apiserver/endpoints/http.js';
import type { RequestInfo } from '../../apiserver/endpoints/requestinfo.js';
import { badRequest, invalid, pathNotFound, serviceUnavailable, type FieldError } from '../../machinery/errors.js';
import { isPlainObject, type KubeObject } from '../../machinery/object.js';
import { formatTime } from '../../machinery/time.js';
import type { APIRegistry } from '../../apiserver/registry/registry.js';
import type { RequestDelegate } from '../../apiserver/server.js';
import type { TokenAuthenticator } from './tokens.js';

/** kube's TokenRequest limits (pkg/apis/authentication/validation). */
const MIN_TOKEN_SECONDS = 600;
const MAX_TOKEN_SECONDS = 2 ** 32;
const DEFAULT_TOKEN_SECONDS = 3600;

export interface AuthEndpointsOptions {
  /** Serves TokenRequest when given. */
  tokens?: Pick<TokenAuthenticator, 'issueServiceAccountToken' | 'apiAudiences'>;
  /** The running server's registry (ServiceAccount lookups for TokenRequest). */
  registry?: () => APIRegistry | undefined;
  /** Answers every other request (e.g. the aggregation proxy). */
  next?: RequestDelegate;
}

export class AuthEndpoints implements RequestDelegate {
  constructor(private readonly opts: AuthEndpointsOptions) {}

  async handle(req: IncomingMessage, res: ServerResponse, info: RequestInfo, url: URL): Promise<boolean> {
    if (info.isResourceRequest && info.verb === 'create') {
      if (
        this.opts.tokens &&
        info.apiGroup === '' &&
        info.apiVersion === 'v1' &&
        info.resource === 'serviceaccounts' &&
        info.subresource === 'token'
      ) {
        await this.respond(res, () => this.tokenRequest(req, info));
        return true;
      }
    }
    return this.opts.next ? this.opts.next.handle(req, res, info, url) : false;
  }

  private async respond(res: ServerResponse, answer: () => Promise<unknown>): Promise<void> {
    try {
      writeJSON(res, 201, await answer());
    } catch (err) {
      writeError(res, err);
    }
  }

  /** pkg/registry/core/serviceaccount/storage/token.go, without object binding. */
  private async tokenRequest(req: IncomingMessage, info: RequestInfo): Promise<KubeObject> {
    const tokens = this.opts.tokens!;
    if (!info.namespace || !info.name || info.parts.length !== 5) throw pathNotFound();
    const raw = await readBody(req);
    const expected = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest' };
    const body = decodeObjectBody(raw, req.headers['content-type'], expected);
    if (!isPlainObject(body)) throw badRequest('the body of the request must be a JSON object');
    if (body['kind'] !== expected.kind || body['apiVersion'] !== expected.apiVersion) {
      throw badRequest(
        `the API version in the data (${String(body['apiVersion'] ?? '')}) does not match the expected API version (${expected.apiVersion})`,
      );
    }
    const meta = isPlainObject(body['metadata']) ? body['metadata'] : {};
    if (typeof meta['name'] === 'string' && meta['name'] && meta['name'] !== info.name)
      throw badRequest('name in URL does not match name in TokenRequest body');
    const spec = isPlainObject(body['spec']) ? body['spec'] : {};
    const audiences = Array.isArray(spec['audiences'])
      ? spec['audiences'].filter((a): a is string => typeof a === 'string')
      : [];
    const requested = spec['expirationSeconds'];
    const seconds =
      requested === undefined || requested === null || requested === 0 ? DEFAULT_TOKEN_SECONDS : requested;
    const errs: FieldError[] = [];
    if (typeof seconds !== 'number' || !Number.isInteger(seconds))
      errs.push({
        type: 'FieldValueInvalid',
        field: 'spec.expirationSeconds',
        value: seconds,
        detail: 'must be an integer',
      });
    else if (seconds < MIN_TOKEN_SECONDS)
      errs.push({
        type: 'FieldValueInvalid',
        field: 'spec.expirationSeconds',
        value: seconds,
        detail: 'may not specify a duration less than 10 minutes',
      });
    else if (seconds > MAX_TOKEN_SECONDS)
      errs.push({
        type: 'FieldValueInvalid',
        field: 'spec.expirationSeconds',
        value: seconds,
        detail: 'may not specify a duration larger than 2^32 seconds',
      });
    if (isPlainObject(spec['boundObjectRef']) && Object.values(spec['boundObjectRef']).some((v) => v)) {
      errs.push({
        type: 'FieldValueForbidden',
        field: 'spec.boundObjectRef',
        detail: 'tokens bound to objects are not supported by this control plane',
      });
    }
    if (errs.length > 0) throw invalid('TokenRequest', 'authentication.k8s.io', info.name, errs);

    const registry = this.opts.registry?.();
    const accounts = registry?.lookup('', 'v1', 'serviceaccounts');
    if (!accounts) throw serviceUnavailable('the service-account store is not ready');
    const account = await accounts.store.get(info.namespace, info.name);
    const issuedAt = Date.now();
    const effectiveAudiences = audiences.length > 0 ? audiences : [...tokens.apiAudiences];
    const token = tokens.issueServiceAccountToken(info.namespace, info.name, account.metadata.uid, {
      expirationSeconds: seconds as number,
      audiences: effectiveAudiences,
    });
    return {
      kind: expected.kind,
      apiVersion: expected.apiVersion,
      metadata: { name: info.name, namespace: info.namespace, creationTimestamp: formatTime(new Date(issuedAt)) },
      spec: { audiences: effectiveAudiences, expirationSeconds: seconds, boundObjectRef: null },
      status: { token, expirationTimestamp: formatTime(new Date(issuedAt + (seconds as number) * 1000)) },
    };
  }
}
