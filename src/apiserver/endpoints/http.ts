// Request-body reading and response writing shared by every endpoint.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYAML } from 'yaml';
import { badRequest, internalError, isStatusError, tooLarge, unsupportedMediaType, type StatusError } from '../errors.js';
import { contentTypeOf } from './negotiation.js';

/** kube-apiserver's MaxRequestBodyBytes. */
export const maxRequestBodyBytes = 3 * 1024 * 1024;

export async function readBody(req: IncomingMessage, limit = maxRequestBodyBytes): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw tooLarge(limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      throw tooLarge(limit);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Decodes a JSON (or YAML) request body into a value. */
export function decodeBody(raw: Buffer, contentType: string | undefined, accepted: string[] = ['application/json', 'application/yaml']): unknown {
  const type = contentTypeOf(contentType) || 'application/json';
  if (!accepted.includes(type)) throw unsupportedMediaType(type, accepted);
  const text = raw.toString('utf8');
  if (text.trim() === '') throw badRequest('the request body is empty');
  try {
    if (type === 'application/yaml' || type === 'application/apply-patch+yaml') return parseYAML(text, { version: '1.1' });
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`the body of the request could not be decoded: ${(err as Error).message}`);
  }
}

export function writeJSON(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload), ...headers });
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

/** `Warning: 299 - "text"` headers, as kube sends for field validation and deprecations. */
export function warningHeaders(warnings: string[]): Record<string, string> {
  if (warnings.length === 0) return {};
  return { Warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ') };
}
