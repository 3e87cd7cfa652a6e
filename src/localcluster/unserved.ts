// Subresources kube-apiserver serves through the kubelet or a proxy, which the local control
// plane has no process behind: `kubectl logs`, `exec`, `attach`, `port-forward` and `cp` (an
// exec) get a Status that says so, instead of a bare "could not find the requested resource".

import type { IncomingMessage, ServerResponse } from 'node:http';
import { writeError } from '../apiserver/endpoints/http.js';
import type { RequestInfo } from '../apiserver/endpoints/requestinfo.js';
import type { RequestDelegate } from '../apiserver/server.js';
import { StatusError } from '../machinery/errors.js';

/** Core subresources the control plane cannot serve, by resource. */
export const unservedSubresources: Readonly<Record<string, readonly string[]>> = {
  pods: ['log', 'exec', 'attach', 'portforward', 'proxy'],
  nodes: ['proxy'],
  services: ['proxy'],
};

export function unservedSubresource(info: RequestInfo): StatusError {
  const what = `${info.resource}/${info.subresource}`;
  return new StatusError(
    405,
    'MethodNotAllowed',
    `the local control plane simulates ${info.resource} without running anything: it does not serve ${what}` +
      (info.resource === 'pods' ? ' (kubectl logs, exec, attach, port-forward and cp need a kubelet)' : ''),
    { ...(info.name ? { name: info.name } : {}), kind: info.resource },
  );
}

/** Answers requests for unserved subresources; hands everything else to `next`. */
export function unservedSubresourceDelegate(next: RequestDelegate): RequestDelegate {
  return {
    async handle(req: IncomingMessage, res: ServerResponse, info: RequestInfo, url: URL): Promise<boolean> {
      if (
        info.isResourceRequest &&
        info.apiGroup === '' &&
        info.subresource &&
        unservedSubresources[info.resource]?.includes(info.subresource)
      ) {
        req.resume();
        writeError(res, unservedSubresource(info));
        return true;
      }
      return next.handle(req, res, info, url);
    },
  };
}
