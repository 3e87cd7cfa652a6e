// Request-body reading and response writing shared by every endpoint.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYAML } from 'yaml';
import {
  badRequest,
  internalError,
  isStatusError,
  tooLarge,
  unsupportedMediaType,
  type StatusError,
} from '../../machinery/errors.js';
import { contentTypeOf } from './negotiation.js';
import { jsonDepth, maxObjectDepth } from '../../machinery/object.js';
import {
  decodeKubeProtobuf,
  encodeKubeProtobuf,
  PROTOBUF_CONTENT_TYPE,
  protobufMessageOf,
  ProtobufError,
} from '../../machinery/protobuf/kube.js';

declare module 'node:http' {
  interface IncomingMessage {
    /** Keep the body for the audit log (its level is Request or more). */
    captureBody?: boolean;
    capturedBody?: Buffer;
  }
}

/** kube-apiserver's MaxRequestBodyBytes. */
export const maxRequestBodyBytes = 3 * 1024 * 1024;

export async function readBody(req: IncomingMessage, limit = maxRequestBodyBytes): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw tooLarge(limit);
  }
  // Listeners, not `for await`: leaving a for-await loop early destroys the request, which resets
  // the connection under a client that is still sending (and about to reuse it for keep-alive).
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return; // past the limit: keep reading, and dropping, the rest
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => {
      const body = Buffer.concat(chunks);
      if (req.captureBody) req.capturedBody = body;
      resolve(body);
    });
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new Error('the client closed the connection before sending the whole body'));
    });
  });
}

/** Decodes a JSON (or YAML) request body into a value. */
export function decodeBody(
  raw: Buffer,
  contentType: string | undefined,
  accepted: string[] = ['application/json', 'application/yaml'],
): unknown {
  const type = contentTypeOf(contentType) || 'application/json';
  if (!accepted.includes(type)) throw unsupportedMediaType(type, accepted);
  const text = raw.toString('utf8');
  if (text.trim() === '') throw badRequest('the request body is empty');
  let value: unknown;
  try {
    if (type === 'application/yaml' || type === 'application/apply-patch+yaml') {
      // Through JSON, as kube converts YAML: aliases can make cycles (`&a [*a]`), tags make Dates,
      // Sets and byte arrays; none of that may reach code that expects plain JSON values.
      value = JSON.parse(JSON.stringify(parseYAML(text, { version: '1.1' })) ?? 'null');
    } else value = JSON.parse(text);
  } catch (err) {
    throw badRequest(`the body of the request could not be decoded: ${(err as Error).message}`);
  }
  checkDepth(value);
  return value;
}

/**
 * Decodes the body of a write to a resource of `kind`: JSON and YAML always, Kubernetes protobuf
 * for the kinds that have a protobuf form (the built-in ones; upm.io kinds answer 415, as CRDs do).
 */
export function decodeObjectBody(
  raw: Buffer,
  contentType: string | undefined,
  kind: { apiVersion: string; kind: string },
): unknown {
  const protobuf = protobufMessageOf(kind.apiVersion, kind.kind) !== undefined;
  if (!protobuf || contentTypeOf(contentType) !== PROTOBUF_CONTENT_TYPE)
    return decodeBody(raw, contentType, [
      'application/json',
      'application/yaml',
      ...(protobuf ? [PROTOBUF_CONTENT_TYPE] : []),
    ]);
  if (raw.length === 0) throw badRequest('the request body is empty');
  try {
    return decodeKubeProtobuf(raw).object;
  } catch (err) {
    if (err instanceof ProtobufError) throw badRequest(`the body of the request could not be decoded: ${err.message}`);
    throw err;
  }
}

/** The protobuf form of a response object, when the client prefers it and the kind has one. */
export function protobufResponse(body: unknown): Buffer | undefined {
  if (body instanceof EncodedJSON) body = JSON.parse(body.text);
  if (typeof body !== 'object' || body === null) return undefined;
  const o = body as Record<string, unknown>;
  if (!protobufMessageOf(String(o['apiVersion'] ?? ''), String(o['kind'] ?? ''))) return undefined;
  return encodeKubeProtobuf(o);
}

/** 400 for a decoded body nested deeper than the server handles (instead of a stack overflow later). */
export function checkDepth(value: unknown): void {
  if (jsonDepth(value) > maxObjectDepth)
    throw badRequest(`the body of the request could not be decoded: exceeded max depth of ${maxObjectDepth}`);
}

export function writeJSON(
  res: ServerResponse,
  code: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  writeJSONText(res, code, body instanceof EncodedJSON ? body.text : JSON.stringify(body), headers);
}

export function writeProtobuf(
  res: ServerResponse,
  code: number,
  payload: Buffer,
  headers: Record<string, string> = {},
): void {
  res.writeHead(code, { 'Content-Type': PROTOBUF_CONTENT_TYPE, 'Content-Length': payload.length, ...headers });
  res.end(payload);
}

/** A response body that is already JSON text (objects served from their stored JSON). */
export class EncodedJSON {
  constructor(readonly text: string) {}
}

function writeJSONText(res: ServerResponse, code: number, text: string, headers: Record<string, string>): void {
  const payload = Buffer.from(text, 'utf8');
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': payload.length, ...headers });
  // A Buffer, not a string: Node sends the header block along with a string body in the body's
  // encoding (utf8), which would encode the UTF-8 bytes of a Warning header a second time.
  res.end(payload);
}

export function toStatusError(err: unknown): StatusError {
  return isStatusError(err) ? err : internalError(err);
}

export function writeError(res: ServerResponse, err: unknown): number {
  const se = toStatusError(err);
  if (res.headersSent) {
    res.destroy();
    return se.code;
  }
  writeJSON(res, se.code, se.toStatus(), se.headers ?? {});
  return se.code;
}

const warningTotalRunes = 4 * 1024;
const warningItemRunes = 256;

/** `Warning: 299 - "text"` headers, as kube sends for field validation and deprecations. */
export function warningHeaders(warnings: string[]): Record<string, string> {
  const unique = [...new Set(warnings.filter((w) => w !== ''))];
  if (unique.length === 0) return {};
  // kube's limits (k8s.io/apiserver/pkg/endpoints/filters/warning.go): past 4096 runes in all,
  // each warning is cut to 256 runes and those after the total is reached are dropped.
  let items = unique;
  if (unique.reduce((n, w) => n + [...w].length, 0) > warningTotalRunes) {
    items = [];
    let written = 0;
    for (const w of unique) {
      if (written >= warningTotalRunes) break;
      const cut = [...w].slice(0, warningItemRunes);
      written += cut.length;
      items.push(cut.join(''));
    }
  }
  return { Warning: items.map((w) => `299 - ${quoteWarning(w)}`).join(', ') };
}

/** A quoted-string whose UTF-8 bytes go out as they are (Node only takes latin1 header text). */
function quoteWarning(text: string): string {
  return Buffer.from(JSON.stringify(text).replace(/\x7f/g, '\\u007f'), 'utf8').toString('latin1');
}

/** Whether If-None-Match names the current ETag (weak comparison, a list, or `*`): answer 304. */
export function notModified(req: IncomingMessage, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (!header) return false;
  const strip = (t: string): string => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => t.trim() === '*' || strip(t) === strip(etag));
}
