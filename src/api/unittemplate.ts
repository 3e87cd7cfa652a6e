// UnitTemplate: the catalogue entry of one service type, edition and version: how to build the
// Pod, which volumes and accounts it needs, its configuration files and typed parameters.

import {
  ABSOLUTE_PATH,
  ageColumn,
  conditions,
  defineUpmResource,
  containerSchema,
  ENV_NAME,
  named,
  observedGeneration,
  podTemplate,
  resourceRequirements,
  withDescription,
} from './common.js';
import {
  bool,
  dnsLabel,
  enumStr,
  int32,
  intOrString,
  listMap,
  listSet,
  object,
  port,
  quantity,
  str,
} from '../machinery/schema.js';

const envName = (description: string) => str(description, { pattern: ENV_NAME, maxLength: 256 });

const volume = named(
  'UnitTemplateVolume',
  object(
    'A volume the service needs, mounted into every container of the Pod.',
    {
      name: dnsLabel('Name of the volume (for example data or log); UnitSets size it under this name.'),
      type: enumStr(
        'Persistent: a PersistentVolumeClaim per Unit that outlives the Pod. EmptyDir: scratch space that lives as long ' +
          'as the Pod.',
        ['Persistent', 'EmptyDir'],
        { default: 'Persistent' },
      ),
      mountPath: str('Absolute path the volume is mounted at.', { pattern: ABSOLUTE_PATH, maxLength: 4096 }),
      size: quantity('Default size: the claim request of a Persistent volume, the size limit of an EmptyDir.'),
      mountPathEnv: envName(
        'Name of an environment variable set to mountPath in every container (for example DATA_MOUNT), for scripts and ' +
          'configuration templates.',
      ),
    },
    { required: ['name', 'mountPath'] },
  ),
);

const credential = named(
  'UnitTemplateCredential',
  object(
    'A database account the service needs (administrator, monitoring, replication, ...). The Secret of the account (named ' +
      'in the UnitSet, or generated) is mounted read-only at /etc/upm/credentials/<name>/ with the files username and ' +
      'password, so passwords never appear in environment variables or in the Pod spec.',
    {
      name: dnsLabel('Name of the account, as UnitSets refer to it (for example admin, monitor, replication).'),
      description: str('What the account is used for and which privileges it gets.'),
      defaultUsername: str('User name used when the controller generates the Secret of the account.', {
        minLength: 1,
        maxLength: 128,
      }),
      usernameEnv: envName(
        'Name of an environment variable set to the user name in every container (for example ADM_USER).',
      ),
    },
    { required: ['name'] },
  ),
);

const configFile = named(
  'UnitTemplateConfigFile',
  object(
    'A configuration file rendered for every Unit from a text template and the parameter values.',
    {
      name: str('File name, for example mysql.cnf.', { pattern: '^[^/]+$', maxLength: 255 }),
      mountPath: str('Absolute path of the directory, in the main container, the rendered file is written to.', {
        pattern: ABSOLUTE_PATH,
        maxLength: 4096,
      }),
      format: enumStr(
        'Syntax of the rendered file, used to check the output and to quote values: ini (sections and key = value), ' +
          'conf (key value lines, as redis.conf), yaml, json, toml, properties (Java), xml, libconfig (ProxySQL), text ' +
          '(no check).',
        ['ini', 'conf', 'yaml', 'json', 'toml', 'properties', 'xml', 'libconfig', 'text'],
      ),
      template: str(
        'The file content as a Go text/template (define, template and block are not supported). Data: .Parameters ' +
          '(values by parameter name, after UnitSet and Unit overrides: integer and number parameters as numbers, ' +
          'boolean ones as true or false, the others as text), .Unit (name, namespace, ordinal, unitSet, address), ' +
          '.Resources (requests and limits of the main container: cpu in millicores, memory and other resources in ' +
          'bytes or base units; a missing request is the limit), .Env (environment variables of the main container ' +
          'with a literal value). Functions: those of Go (and, or, not, eq, ne, lt, le, gt, ge, len, index, print, ' +
          'printf, println); default DEFAULT VALUE, quote, atoi, onOff and yesNo (a boolean as ON/OFF or yes/no); ' +
          'lower, upper, trim, replace OLD NEW S, contains, hasPrefix, hasSuffix, split SEP S, join SEP LIST; add, sub, ' +
          'mul, div, mod, max, min, floor, ceil (integer operands give integer results); sizes: percentOf QUANTITY ' +
          'PERCENT (rounded down), bytes, kibibytes, mebibytes, gibibytes (a quantity such as 4Gi, or a number of bytes, ' +
          'in that unit, rounded down), alignDown VALUE UNIT; CPU: cores (whole cores of a number of millicores or of a ' +
          'CPU quantity, rounded up, at least 1). For example innodb_buffer_pool_size = ' +
          '{{ percentOf .Resources.limits.memory 70 }}. A value that is missing (a parameter with no default that is ' +
          'not set) is an error naming the file, the line and the parameter, unless if, with, not or default handles it.',
        { minLength: 1, maxLength: 1048576 },
      ),
    },
    { required: ['name', 'mountPath', 'format', 'template'] },
  ),
);

const parameter = named(
  'UnitTemplateParameter',
  object(
    'A configuration parameter users may set through UnitSet spec.config.parameters.',
    {
      name: str(
        'Name of the parameter, unique in the template, usually the engine name (for example max_connections).',
        {
          pattern: '^[A-Za-z0-9][-._A-Za-z0-9]*$',
          maxLength: 253,
        },
      ),
      section: str(
        'Section of the configuration file the parameter belongs to (for example mysqld), when the format has any.',
        {
          maxLength: 253,
        },
      ),
      type: enumStr(
        'Type of the value. string; integer; number (decimal); boolean (true or false, rendered as the engine expects); ' +
          'quantity (a resource quantity such as 64Mi); enum (one of allowedValues); set (comma-separated subset of ' +
          'allowedValues, as MySQL sql_mode).',
        ['string', 'integer', 'number', 'boolean', 'quantity', 'enum', 'set'],
      ),
      default: str('Value used when no override is given, as text.'),
      allowedValues: listSet('Values an enum or set parameter accepts.', { type: 'string' }, { maxItems: 256 }),
      minimum: intOrString(
        'Smallest value an integer, number or quantity parameter accepts (a number or a decimal or quantity string).',
      ),
      maximum: intOrString(
        'Largest value an integer, number or quantity parameter accepts (a number or a decimal or quantity string).',
      ),
      pattern: str('Regular expression a string parameter must match.', { maxLength: 1024 }),
      dynamic: bool(
        'true: a change is applied online without restarting the service (SET GLOBAL, CONFIG SET, ...). false: a change ' +
          'takes effect after a restart.',
        { default: false },
      ),
      immutable: bool(
        'The value can only be chosen when a Unit is first created (for example lower_case_table_names).',
        {
          default: false,
        },
      ),
      description: str('What the parameter does, shown to users.'),
    },
    { required: ['name', 'type'] },
  ),
);

const unitTemplateSpec = named(
  'UnitTemplateSpec',
  object(
    'Desired state of a UnitTemplate.',
    {
      type: dnsLabel('Service type, for example mysql. UnitSets of this type use the template.'),
      edition: dnsLabel('Edition of the service.', { default: 'community' }),
      version: str('Full version of the service, for example 8.0.36.', {
        pattern: '^[0-9a-z]([-.0-9a-z]*[0-9a-z])?$',
        maxLength: 63,
      }),
      mainContainer: dnsLabel('Name of the container of podTemplate that runs the service. Defaults to spec.type.'),
      podTemplate: podTemplate(
        'The Pod of every Unit, before the UnitSet settings (resources, volumes, credentials, scheduling, env, sidecars) ' +
          'are applied. Its containers must not mount the volumes of spec.volumes themselves.',
      ),
      resources: resourceRequirements('Default compute resources of the main container, for UnitSets that set none.'),
      volumes: listMap('Volumes the service needs.', ['name'], volume, { maxItems: 16 }),
      credentials: listMap('Accounts the service needs.', ['name'], credential, { maxItems: 32 }),
      configFiles: listMap('Configuration files of the service.', ['name'], configFile, { maxItems: 16 }),
      parameters: listMap('Parameters users may set.', ['name'], parameter, { maxItems: 1024 }),
      agent: named(
        'UnitTemplateAgent',
        object(
          'The unit agent in the Pod: it renders configuration files, applies dynamic parameters and starts and stops ' +
            'the service process.',
          {
            container: dnsLabel('Name of the agent container in podTemplate.', { default: 'unit-agent' }),
            port: port('gRPC port of the agent.', { default: 2214 }),
          },
          { default: {} },
        ),
      ),
      exporter: named(
        'UnitTemplateExporter',
        object(
          'A Prometheus exporter added to the Pod unless the UnitSet disables it.',
          {
            container: withDescription(containerSchema, 'The exporter container, in the shape of a core/v1 Container.'),
            port: port('Port the exporter serves metrics on.'),
            path: str('HTTP path of the metrics.', { pattern: ABSOLUTE_PATH, default: '/metrics' }),
          },
          { required: ['container', 'port'] },
        ),
      ),
      startupTimeoutSeconds: int32(
        'How long the service may take to become Ready after it is started before the start counts as failed.',
        {
          minimum: 1,
          default: 300,
        },
      ),
    },
    { required: ['type', 'version', 'podTemplate'] },
  ),
);

const unitTemplateStatus = named(
  'UnitTemplateStatus',
  object('Observed state of a UnitTemplate.', {
    observedGeneration: observedGeneration('the UnitTemplate'),
    conditions: conditions({
      Valid:
        'Whether the template is usable: the main and agent containers exist, every config file template parses and ' +
        'renders with the parameter defaults, and every default satisfies its parameter type (reason names the problem).',
    }),
  }),
);

export const unitTemplateDefinition = defineUpmResource({
  kind: 'UnitTemplate',
  shortNames: ['ut'],
  namespaced: false,
  description:
    'UnitTemplate is the catalogue entry of one service type, edition and version, named <type>-<edition>-<version> ' +
    'by convention: the Pod template, the volumes and accounts the service needs, its configuration files as templates, ' +
    'the parameters users may set with their types, ranges and whether they apply online, default resources and the ' +
    'metrics exporter. UnitSets refer to it; a change to it rolls out to them as a new revision.',
  schemaDescription: 'UnitTemplate is the catalogue entry of one service type, edition and version.',
  spec: unitTemplateSpec,
  status: unitTemplateStatus,
  printerColumns: [
    { name: 'Type', jsonPath: '.spec.type' },
    { name: 'Edition', jsonPath: '.spec.edition' },
    { name: 'Version', jsonPath: '.spec.version' },
    {
      name: 'Valid',
      jsonPath: '.status.conditions[?(@.type=="Valid")].status',
      type: 'string',
      description: 'Status of the Valid condition.',
    },
    ageColumn,
  ],
  selectableFields: ['spec.type', 'spec.edition', 'spec.version'],
});
