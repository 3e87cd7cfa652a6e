// "The API server vs a bare node:https server returning the same bytes", the reference of the
// read rows: same process and thread, same TLS settings and certificate, same client.

import type { BackendEnv } from './env.js';
import { withServerELU } from './env.js';
import type { RequestsJob, RequestsResult } from './protocol.js';
import { row, type Row } from './types.js';

export interface ReadComparison {
  api: RequestsResult;
  apiServerELU: number;
  bare: RequestsResult;
  bareServerELU: number;
  bytes: number;
}

function check(what: string, r: RequestsResult): void {
  if (r.errors > 0) throw new Error(`${what}: ${r.errors} failed requests (${r.firstError ?? '?'})`);
  if (r.completed === 0) throw new Error(`${what}: no request completed`);
}

/** Measures GET `path` on the API server, then the same bytes from a bare server, with the same job. */
export async function compareWithBare(
  env: BackendEnv,
  path: string,
  job: Omit<RequestsJob, 'kind' | 'target' | 'scenario'>,
): Promise<ReadComparison> {
  const sample = await env.apiOK('GET', path);
  const contentType = String(sample.headers['content-type'] ?? 'application/json');
  const scenario = { type: 'fixed' as const, method: 'GET' as const, path };
  const { result: api, elu: apiServerELU } = await withServerELU(() =>
    env.worker.run({ kind: 'requests', target: env.target, scenario, ...job }),
  );
  check(`GET ${path}`, api);
  const bareServer = await env.bare(sample.body, contentType);
  try {
    const { result: bare, elu: bareServerELU } = await withServerELU(() =>
      env.worker.run({ kind: 'requests', target: bareServer.target, scenario, ...job }),
    );
    check(`bare GET ${path}`, bare);
    return { api, apiServerELU, bare, bareServerELU, bytes: sample.body.length };
  } finally {
    await bareServer.close();
  }
}

/** "server a / client b": how busy each event loop was (1.00 = saturated). */
export function busy(serverELU: number, clientELU: number): string {
  return `server ${serverELU.toFixed(2)} / client ${clientELU.toFixed(2)}`;
}

/** Throughput, p50 and p99 rows of a comparison. */
export function readRows(suite: string, env: BackendEnv, label: string, c: ReadComparison, concurrency: number): Row[] {
  const ref = 'bare https, same bytes';
  return [
    row(
      suite,
      env.name,
      `${label} throughput`,
      c.api.throughput,
      'req/s',
      ref,
      c.bare.throughput,
      `${concurrency} in flight, ${c.bytes} B; busy API ${busy(c.apiServerELU, c.api.elu)}, bare ${busy(c.bareServerELU, c.bare.elu)}`,
    ),
    row(suite, env.name, `${label} p50`, c.api.latency.p50, 'ms', ref, c.bare.latency.p50),
    row(suite, env.name, `${label} p99`, c.api.latency.p99, 'ms', ref, c.bare.latency.p99),
  ];
}
