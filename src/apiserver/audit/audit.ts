// Audit logging as kube-apiserver does it (k8s.io/apiserver pkg/audit, --audit-policy-file,
// --audit-log-path): one audit.k8s.io/v1 Event per request, as a JSON line, at the level the
// first matching rule of the policy gives (None: nothing; Metadata: user, verb, resource, name,
// code, timestamps; Request: also the request body of writes). Only the ResponseComplete stage
// is logged (one line per request); the annotation apiserver.latency.k8s.io/total carries the
// time to answer.

import { createWriteStream, type WriteStream } from 'node:fs';
import { parse as parseYAML } from 'yaml';

export type AuditLevel = 'None' | 'Metadata' | 'Request' | 'RequestResponse';

export interface GroupResources {
  group?: string;
  /** `pods`, `pods/status`, `*`, `*\/status`. */
  resources?: string[];
  resourceNames?: string[];
}

export interface PolicyRule {
  level: AuditLevel;
  users?: string[];
  userGroups?: string[];
  verbs?: string[];
  resources?: GroupResources[];
  namespaces?: string[];
  nonResourceURLs?: string[];
}

export interface AuditPolicy {
  apiVersion?: string;
  kind?: 'Policy';
  rules: PolicyRule[];
}

/** What the server knows of a request when it has answered it. */
export interface AuditRequest {
  auditID: string;
  verb: string;
  requestURI: string;
  user: { username: string; uid?: string; groups: string[] };
  sourceIPs: string[];
  userAgent?: string;
  resource?: {
    apiGroup: string;
    apiVersion: string;
    resource: string;
    subresource?: string;
    namespace?: string;
    name?: string;
  };
  code: number;
  received: Date;
  completed: Date;
  requestObject?: unknown;
}

export const defaultPolicy: AuditPolicy = { rules: [{ level: 'Metadata' }] };

export function parsePolicy(text: string): AuditPolicy {
  const doc = parseYAML(text) as Partial<AuditPolicy> | null;
  if (!doc || typeof doc !== 'object' || !Array.isArray(doc.rules))
    throw new Error('an audit policy is a Policy (audit.k8s.io/v1) with a list of rules');
  if (doc.kind !== undefined && doc.kind !== 'Policy') throw new Error(`expected kind Policy, got ${String(doc.kind)}`);
  const levels: AuditLevel[] = ['None', 'Metadata', 'Request', 'RequestResponse'];
  doc.rules.forEach((r, i) => {
    if (!levels.includes(r.level)) throw new Error(`rules[${i}].level: must be one of ${levels.join(', ')}`);
  });
  return { rules: doc.rules };
}

function matchesList(list: string[] | undefined, value: string): boolean {
  return !list || list.length === 0 || list.includes(value) || list.includes('*');
}

function resourceMatches(rules: GroupResources[], r: NonNullable<AuditRequest['resource']>): boolean {
  const full = r.subresource ? `${r.resource}/${r.subresource}` : r.resource;
  return rules.some((g) => {
    if ((g.group ?? '') !== r.apiGroup && g.group !== '*') return false;
    const resources = g.resources ?? [];
    const resourceOK =
      resources.length === 0 ||
      resources.some(
        (x) =>
          x === full ||
          x === '*' ||
          (x === `${r.resource}/*` && !!r.subresource) ||
          (x === `*/${r.subresource}` && !!r.subresource),
      );
    return resourceOK && matchesList(g.resourceNames, r.name ?? '');
  });
}

/** The level of the first rule that matches (None when none does). */
export function levelFor(
  policy: AuditPolicy,
  req: Pick<AuditRequest, 'user' | 'verb' | 'resource' | 'requestURI'>,
): AuditLevel {
  for (const rule of policy.rules) {
    if (rule.users?.length && !rule.users.includes(req.user.username)) continue;
    if (rule.userGroups?.length && !rule.userGroups.some((g) => req.user.groups.includes(g))) continue;
    if (!matchesList(rule.verbs, req.verb)) continue;
    if (req.resource) {
      if (rule.nonResourceURLs?.length) continue;
      if (rule.resources?.length && !resourceMatches(rule.resources, req.resource)) continue;
      if (rule.namespaces?.length && !rule.namespaces.includes(req.resource.namespace ?? '')) continue;
    } else {
      if (rule.resources?.length || rule.namespaces?.length) continue;
      const path = req.requestURI.split('?')[0]!;
      if (
        rule.nonResourceURLs?.length &&
        !rule.nonResourceURLs.some((u) => u === path || (u.endsWith('*') && path.startsWith(u.slice(0, -1))))
      )
        continue;
    }
    return rule.level;
  }
  return 'None';
}

function microTime(d: Date): string {
  return `${d.toISOString().slice(0, -1)}000Z`;
}

/** The audit.k8s.io/v1 Event of a request at a level (never None). */
export function auditEvent(req: AuditRequest, level: Exclude<AuditLevel, 'None'>): Record<string, unknown> {
  const ms = req.completed.getTime() - req.received.getTime();
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level,
    auditID: req.auditID,
    stage: 'ResponseComplete',
    requestURI: req.requestURI,
    verb: req.verb,
    user: { username: req.user.username, ...(req.user.uid ? { uid: req.user.uid } : {}), groups: req.user.groups },
    sourceIPs: req.sourceIPs,
    ...(req.userAgent ? { userAgent: req.userAgent } : {}),
    ...(req.resource
      ? {
          objectRef: {
            resource: req.resource.resource,
            ...(req.resource.namespace ? { namespace: req.resource.namespace } : {}),
            ...(req.resource.name ? { name: req.resource.name } : {}),
            apiGroup: req.resource.apiGroup,
            apiVersion: req.resource.apiVersion,
            ...(req.resource.subresource ? { subresource: req.resource.subresource } : {}),
          },
        }
      : {}),
    responseStatus: { metadata: {}, code: req.code },
    ...(level !== 'Metadata' && req.requestObject !== undefined ? { requestObject: req.requestObject } : {}),
    requestReceivedTimestamp: microTime(req.received),
    stageTimestamp: microTime(req.completed),
    annotations: { 'apiserver.latency.k8s.io/total': `${ms}ms` },
  };
}

export interface AuditLoggerOptions {
  /** A file path, or `-` for standard output. */
  path: string;
  policy?: AuditPolicy;
}

/** Writes one JSON line per audited request. */
export class AuditLogger {
  readonly policy: AuditPolicy;
  private readonly out: WriteStream | NodeJS.WriteStream;

  constructor(o: AuditLoggerOptions) {
    this.policy = o.policy ?? defaultPolicy;
    this.out = o.path === '-' ? process.stdout : createWriteStream(o.path, { flags: 'a', mode: 0o600 });
  }

  level(req: Pick<AuditRequest, 'user' | 'verb' | 'resource' | 'requestURI'>): AuditLevel {
    return levelFor(this.policy, req);
  }

  record(req: AuditRequest, level: AuditLevel): void {
    if (level === 'None') return;
    this.out.write(`${JSON.stringify(auditEvent(req, level))}\n`);
  }

  close(): Promise<void> {
    if (this.out === process.stdout) return Promise.resolve();
    return new Promise((resolve) => (this.out as WriteStream).end(() => resolve()));
  }
}
