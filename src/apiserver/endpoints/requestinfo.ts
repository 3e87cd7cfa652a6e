// Parses a request into kube's RequestInfo (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go):
// which API, resource, namespace, name and subresource it names, and the authorization verb.

export interface RequestInfo {
  isResourceRequest: boolean;
  path: string;
  /** Authorization verb: get, list, watch, create, update, patch, delete, deletecollection,
   * or the lower-case HTTP method for non-resource requests. */
  verb: string;
  /** 'api' (core) or 'apis'. */
  apiPrefix: string;
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
  /** Path segments after the group-version, e.g. ['namespaces','default','unitsets','a']. */
  parts: string[];
}

const namespaceSubresources = new Set(['status', 'finalize']);

function isWatch(query: URLSearchParams): boolean {
  const w = query.get('watch');
  return w === 'true' || w === '1';
}

export function parseRequestInfo(method: string, path: string, query: URLSearchParams): RequestInfo {
  const segments = path
    .split('/')
    .filter((s) => s.length > 0)
    .map(safeDecode);
  const info: RequestInfo = {
    isResourceRequest: false,
    path,
    verb: method.toLowerCase(),
    apiPrefix: '',
    apiGroup: '',
    apiVersion: '',
    namespace: '',
    resource: '',
    subresource: '',
    name: '',
    parts: [],
  };
  if (segments.length === 0) return info;
  const prefix = segments[0];
  if (prefix !== 'api' && prefix !== 'apis') return info;
  info.apiPrefix = prefix;
  let rest = segments.slice(1);
  if (prefix === 'apis') {
    if (rest.length < 3) {
      // /apis, /apis/<group>, /apis/<group>/<version>: discovery, not resources.
      info.apiGroup = rest[0] ?? '';
      info.apiVersion = rest[1] ?? '';
      return info;
    }
    info.apiGroup = rest[0];
    rest = rest.slice(1);
  } else if (rest.length < 2) {
    info.apiVersion = rest[0] ?? '';
    return info;
  }
  info.apiVersion = rest[0];
  rest = rest.slice(1);

  let legacyWatch = false;
  if (rest[0] === 'watch') {
    legacyWatch = true;
    rest = rest.slice(1);
    if (rest.length === 0) return info;
  }
  info.isResourceRequest = true;
  info.parts = rest;

  switch (method.toUpperCase()) {
    case 'POST':
      info.verb = 'create';
      break;
    case 'GET':
    case 'HEAD':
      info.verb = 'get';
      break;
    case 'PUT':
      info.verb = 'update';
      break;
    case 'PATCH':
      info.verb = 'patch';
      break;
    case 'DELETE':
      info.verb = 'delete';
      break;
    default:
      info.verb = method.toLowerCase();
  }

  let parts = rest;
  if (parts[0] === 'namespaces') {
    if (parts.length > 1) info.namespace = parts[1];
    // /namespaces/<ns>/<resource>... is namespaced; /namespaces/<ns>[/status] is the namespace itself.
    if (parts.length >= 3 && !namespaceSubresources.has(parts[2])) {
      parts = parts.slice(2);
    }
  }
  info.resource = parts[0] ?? '';
  if (parts.length >= 2) info.name = parts[1];
  if (parts.length >= 3) info.subresource = parts[2];
  if (info.resource === 'namespaces' && rest[0] === 'namespaces') {
    // The namespace object: its namespace is empty and its name is the path's namespace.
    info.namespace = '';
  }

  if (legacyWatch || (info.verb === 'get' && !info.name && isWatch(query))) {
    info.verb = 'watch';
  } else if (info.verb === 'get' && !info.name) {
    info.verb = 'list';
  }
  if (info.verb === 'delete' && !info.name) info.verb = 'deletecollection';

  return info;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
