import { StatusError } from '../../machinery/errors.js';
import { negotiateRepresentation, parseAccept } from './negotiation.js';
import { parseRequestInfo } from './requestinfo.js';

describe('request info', () => {
  const q = (s = '') => new URLSearchParams(s);
  it.each([
    [
      'GET',
      '/apis/upm.io/v1alpha1/namespaces/ns/unitsets',
      '',
      { verb: 'list', namespace: 'ns', resource: 'unitsets', name: '' },
    ],
    ['GET', '/apis/upm.io/v1alpha1/namespaces/ns/unitsets', 'watch=true', { verb: 'watch' }],
    ['GET', '/apis/upm.io/v1alpha1/watch/namespaces/ns/unitsets', '', { verb: 'watch', resource: 'unitsets' }],
    ['GET', '/apis/upm.io/v1alpha1/namespaces/ns/unitsets/a', '', { verb: 'get', name: 'a' }],
    ['PUT', '/apis/upm.io/v1alpha1/namespaces/ns/unitsets/a/status', '', { verb: 'update', subresource: 'status' }],
    ['PATCH', '/apis/upm.io/v1alpha1/namespaces/ns/unitsets/a/scale', '', { verb: 'patch', subresource: 'scale' }],
    ['DELETE', '/apis/upm.io/v1alpha1/namespaces/ns/unitsets', '', { verb: 'deletecollection' }],
    ['POST', '/apis/upm.io/v1alpha1/unittemplates', '', { verb: 'create', namespace: '', resource: 'unittemplates' }],
    ['GET', '/api/v1/namespaces/default', '', { verb: 'get', resource: 'namespaces', name: 'default', namespace: '' }],
    [
      'GET',
      '/api/v1/namespaces/default/pods/p',
      '',
      { verb: 'get', resource: 'pods', name: 'p', namespace: 'default', apiGroup: '' },
    ],
  ])('%s %s?%s', (method, path, query, expected) => {
    const info = parseRequestInfo(method, path, q(query));
    expect(info.isResourceRequest).toBe(true);
    expect(info).toMatchObject(expected);
  });

  it('treats discovery and other paths as non-resource requests', () => {
    expect(parseRequestInfo('GET', '/apis/upm.io/v1alpha1', q()).isResourceRequest).toBe(false);
    expect(parseRequestInfo('GET', '/healthz', q())).toMatchObject({ isResourceRequest: false, verb: 'get' });
  });
});

describe('content negotiation', () => {
  const kubectlGet =
    'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';
  const metadataClient =
    'application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
  it('picks the first clause it can serve', () => {
    expect(negotiateRepresentation(kubectlGet, 'list')).toEqual({ kind: 'table', version: 'v1' });
    expect(negotiateRepresentation(metadataClient, 'list')).toEqual({
      kind: 'partialObjectMetadataList',
      version: 'v1',
    });
    expect(negotiateRepresentation(metadataClient, 'single')).toEqual({ kind: 'object' });
    expect(negotiateRepresentation(undefined, 'single')).toEqual({ kind: 'object' });
    expect(negotiateRepresentation('*/*', 'single')).toEqual({ kind: 'object' });
  });

  it('orders by quality and answers 406 when nothing fits', () => {
    expect(parseAccept('text/plain;q=0.5, application/json')[0].subtype).toBe('json');
    expect(() => negotiateRepresentation('application/vnd.kubernetes.protobuf', 'single')).toThrow(StatusError);
    expect(() => negotiateRepresentation('application/json;as=Table;g=meta.k8s.io;v=v2', 'list')).toThrow(
      /only the following media types/,
    );
  });
});
