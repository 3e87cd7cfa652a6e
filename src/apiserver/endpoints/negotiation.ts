// Accept-header negotiation with Kubernetes media-type parameters (`as`, `g`, `v`), as
// k8s.io/apiserver/pkg/endpoints/handlers/negotiation does: clauses are tried in quality and
// then header order; the first one we can serve wins; none → 406.

import { notAcceptable } from '../../machinery/errors.js';

export interface MediaClause {
  type: string;
  subtype: string;
  params: Record<string, string>;
  q: number;
}

export function parseAccept(header: string | undefined): MediaClause[] {
  if (!header || header.trim() === '') return [{ type: '*', subtype: '*', params: {}, q: 1 }];
  const clauses: (MediaClause & { index: number })[] = [];
  header.split(',').forEach((raw, index) => {
    const pieces = raw.split(';').map((p) => p.trim());
    const [full, ...paramParts] = pieces;
    if (!full) return;
    const slash = full.indexOf('/');
    const type = (slash < 0 ? full : full.slice(0, slash)).toLowerCase();
    const subtype = (slash < 0 ? '*' : full.slice(slash + 1)).toLowerCase();
    const params: Record<string, string> = {};
    let q = 1;
    for (const p of paramParts) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const k = p.slice(0, eq).trim().toLowerCase();
      const v = p
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
      if (k === 'q') {
        const n = Number(v);
        q = Number.isFinite(n) ? n : 0;
      } else params[k] = v;
    }
    if (q > 0) clauses.push({ type, subtype, params, q, index });
  });
  // goautoneg's order, as kube uses it: quality, then specificity, then header order.
  const specificity = (c: MediaClause): number => (c.type === '*' ? 0 : c.subtype === '*' ? 1 : 2);
  clauses.sort((a, b) => b.q - a.q || specificity(b) - specificity(a) || a.index - b.index);
  return clauses.map(({ type, subtype, params, q }) => ({ type, subtype, params, q }));
}

/** The representations a response can take. */
export type Representation =
  | { kind: 'object'; protobuf?: boolean }
  | { kind: 'table'; version: 'v1' | 'v1beta1' }
  | { kind: 'partialObjectMetadata'; version: 'v1' | 'v1beta1' }
  | { kind: 'partialObjectMetadataList'; version: 'v1' | 'v1beta1' };

function isJSON(c: MediaClause): boolean {
  return (
    (c.type === 'application' && (c.subtype === 'json' || c.subtype === '*')) || (c.type === '*' && c.subtype === '*')
  );
}

/**
 * Chooses the representation for a resource response.
 * @param target 'single' for get/create/update/patch/delete of one object, 'list' for lists,
 *   'watch' for watch streams (whose events carry single objects).
 */
export function negotiateRepresentation(
  accept: string | undefined,
  target: 'single' | 'list' | 'watch',
  opts: { protobuf?: boolean } = {},
): Representation {
  for (const c of parseAccept(accept)) {
    if (
      opts.protobuf &&
      target !== 'watch' &&
      c.type === 'application' &&
      c.subtype === 'vnd.kubernetes.protobuf' &&
      !c.params['as']
    )
      return { kind: 'object', protobuf: true };
    if (!isJSON(c)) continue;
    const as = c.params['as'];
    if (!as) {
      if (c.params['g'] || c.params['v']) continue;
      return { kind: 'object' };
    }
    if (c.params['g'] !== 'meta.k8s.io') continue;
    const version = c.params['v'];
    if (version !== 'v1' && version !== 'v1beta1') continue;
    if (as === 'Table') return { kind: 'table', version };
    if (as === 'PartialObjectMetadata' && target !== 'list') return { kind: 'partialObjectMetadata', version };
    if (as === 'PartialObjectMetadataList' && target === 'list') return { kind: 'partialObjectMetadataList', version };
  }
  throw notAcceptable(['application/json']);
}

/** True when the Accept header allows a plain JSON answer (used by discovery and docs). */
export function acceptsPlainJSON(accept: string | undefined): boolean {
  return parseAccept(accept).some((c) => isJSON(c) && !c.params['as'] && !c.params['g'] && !c.params['v']);
}

export function contentTypeOf(header: string | undefined): string {
  return (header ?? '').split(';')[0].trim().toLowerCase();
}
