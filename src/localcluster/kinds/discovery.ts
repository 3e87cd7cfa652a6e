// discovery.k8s.io/v1 EndpointSlice: what the EndpointSlice controller writes and a proxy reads.

import { defineResource } from '../../machinery/definition.js';
import { kindSchema, looseList, str } from '../../machinery/schema.js';

export const endpointSliceDefinition = defineResource({
  group: 'discovery.k8s.io',
  version: 'v1',
  kind: 'EndpointSlice',
  namespaced: true,
  description:
    'EndpointSlice represents a set of service endpoints. Most EndpointSlices are created by the EndpointSlice controller to represent the Pods selected by Service objects.',
  schema: kindSchema('EndpointSlice represents a set of service endpoints.', {
    addressType: str('addressType specifies the type of address carried by this EndpointSlice (IPv4, IPv6, FQDN).'),
    endpoints: looseList('endpoints is a list of unique endpoints in this slice.'),
    ports: looseList('ports specifies the list of network ports exposed by each endpoint in this slice.'),
  }),
  printerColumns: [
    { name: 'AddressType', jsonPath: '.addressType' },
    { name: 'Ports', jsonPath: '.ports[*].port', type: 'string' },
    { name: 'Endpoints', jsonPath: '.endpoints[*].addresses[0]', type: 'string' },
    { name: 'Age', jsonPath: '.metadata.creationTimestamp' },
  ],
  subresources: {},
});
