// UnitTemplate rules a schema cannot state: the Pod template is a usable Pod spec with the main
// container (and the agent container when there are files to render); the parameter
// definitions are consistent; every configuration file renders with the parameter defaults;
// names, ports and mount paths do not collide.

import type { FieldError } from '../../machinery/errors.js';
import type { KubeObject } from '../../machinery/object.js';
import { quantityValue } from '../../machinery/quantity.js';
import {
  checkRenderedFormat,
  compileTemplate,
  renderTemplate,
  TemplateError,
  type ConfigTemplateData,
} from '../configtemplate/index.js';
import type { UnitTemplateSpec } from '../generated/types.js';
import { duplicate, forbidden, invalid, isPlainRecord, isQuantity, listOf, notFound, required } from './fields.js';
import { validateResources } from './fields.js';
import { typedParameterValue, validateParameterDefinitions } from './parameters.js';
import { containersOf, portsOf, validatePodSpec } from './podspec.js';

export const DEFAULT_AGENT_CONTAINER = 'unit-agent';

/** The name of the container that runs the service. */
export function mainContainerName(spec: Pick<UnitTemplateSpec, 'mainContainer' | 'type'>): string {
  return spec.mainContainer ?? spec.type;
}

/**
 * What configuration templates see when a template is checked: the parameter defaults, a
 * sample Unit (ordinal 0) and the template's default resources. Parameters without a default
 * are left out, so a template that needs one fails naming it.
 */
export function sampleTemplateData(spec: UnitTemplateSpec): ConfigTemplateData {
  const parameters: Record<string, unknown> = {};
  for (const p of spec.parameters ?? [])
    if (p.default !== undefined) parameters[p.name] = typedParameterValue(p, p.default);
  const amounts = (values: Record<string, string | number> | undefined) => {
    const out: Record<string, number> = {};
    for (const [name, q] of Object.entries(values ?? {})) {
      if (!isQuantity(q)) continue;
      const v = quantityValue(q);
      out[name] = name === 'cpu' ? Math.round(v * 1000) : Math.floor(v);
    }
    return out;
  };
  const main = containersOf(spec.podTemplate?.spec ?? {}, '').find((c) => c.name === mainContainerName(spec));
  const env: Record<string, string> = {};
  for (const e of listOf(main?.container['env']))
    if (isPlainRecord(e) && typeof e['name'] === 'string')
      env[e['name']] = typeof e['value'] === 'string' ? e['value'] : '';
  return {
    Parameters: parameters,
    Unit: {
      name: 'sample-0',
      namespace: 'default',
      ordinal: 0,
      unitSet: 'sample',
      address: 'sample-0.sample-headless.default.svc',
    },
    Resources: { requests: amounts(spec.resources?.requests), limits: amounts(spec.resources?.limits) },
    Env: env,
  };
}

function validateConfigFiles(spec: UnitTemplateSpec, errs: FieldError[]): void {
  const declared = new Set((spec.parameters ?? []).map((p) => p.name));
  const data = sampleTemplateData(spec);
  const paths = new Set<string>();
  (spec.configFiles ?? []).forEach((file, i) => {
    const f = `spec.configFiles[${i}]`;
    if (!file || typeof file.template !== 'string') return;
    const path = `${(file.mountPath ?? '').replace(/\/+$/, '')}/${file.name}`;
    if (paths.has(path))
      errs.push(duplicate(`${f}.name`, file.name, `another configuration file is written to ${path}`));
    paths.add(path);
    let rendered: string;
    try {
      rendered = renderTemplate(compileTemplate(file.template), data, { declaredParameters: declared });
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      errs.push({
        type: 'FieldValueInvalid',
        field: `${f}.template`,
        detail: `${file.name} does not render with the parameter defaults: ${err.message}`,
      });
      return;
    }
    const bad = checkRenderedFormat(file.format, rendered);
    if (bad) errs.push({ type: 'FieldValueInvalid', field: `${f}.template`, detail: `${file.name}: ${bad}` });
  });
}

/** Field errors of a UnitTemplate (create and update alike). */
export function validateUnitTemplate(obj: KubeObject): FieldError[] {
  const spec = obj['spec'] as UnitTemplateSpec | undefined;
  const errs: FieldError[] = [];
  if (!isPlainRecord(spec)) return errs;

  const templateVolumes = new Set<string>();
  listOf(spec.volumes).forEach((v, i) => {
    const name = (v as { name?: string })?.name;
    if (typeof name !== 'string') return;
    if (templateVolumes.has(name)) errs.push(duplicate(`spec.volumes[${i}].name`, name));
    templateVolumes.add(name);
    const size = (v as { size?: unknown }).size;
    if (size !== undefined && (!isQuantity(size) || quantityValue(size as string) <= 0))
      errs.push(invalid(`spec.volumes[${i}].size`, size, 'must be a positive quantity, for example 10Gi'));
  });

  const podSpecField = 'spec.podTemplate.spec';
  const podSpec = spec.podTemplate?.spec;
  errs.push(...validatePodSpec(podSpec, podSpecField, { extraVolumes: templateVolumes }));
  if (!isPlainRecord(podSpec)) return errs;
  const containers = containersOf(podSpec, podSpecField);
  for (const c of containers) {
    listOf(c.container['volumeMounts']).forEach((m, i) => {
      const name = isPlainRecord(m) ? m['name'] : undefined;
      if (typeof name === 'string' && templateVolumes.has(name))
        errs.push(
          forbidden(
            `${c.field}.volumeMounts[${i}].name`,
            `volume ${JSON.stringify(name)} of spec.volumes is mounted into every container by the controller, at its spec.volumes mountPath`,
          ),
        );
    });
    listOf(podSpec['volumes']).forEach((v, i) => {
      const name = isPlainRecord(v) ? v['name'] : undefined;
      if (c === containers[0] && typeof name === 'string' && templateVolumes.has(name))
        errs.push(duplicate(`${podSpecField}.volumes[${i}].name`, name, 'spec.volumes declares a volume of that name'));
    });
  }

  const main = mainContainerName(spec);
  const app = listOf(podSpec['containers']).some((c) => isPlainRecord(c) && c['name'] === main);
  if (!app) {
    if (spec.mainContainer !== undefined)
      errs.push(
        notFound('spec.mainContainer', spec.mainContainer, `no container of that name in ${podSpecField}.containers`),
      );
    else
      errs.push(
        required(
          `${podSpecField}.containers`,
          `no container named ${JSON.stringify(main)}: the main container is named after spec.type unless spec.mainContainer says otherwise`,
        ),
      );
  }

  const agent = spec.agent?.container ?? DEFAULT_AGENT_CONTAINER;
  if ((spec.configFiles ?? []).length > 0 && !containers.some((c) => c.name === agent))
    errs.push(
      notFound(
        'spec.agent.container',
        agent,
        `no container of that name in ${podSpecField}.containers: the agent renders spec.configFiles`,
      ),
    );

  if (spec.exporter?.container) {
    const name = spec.exporter.container.name;
    if (containers.some((c) => c.name === name))
      errs.push(duplicate('spec.exporter.container.name', name, `${podSpecField} has a container of that name`));
    const port = spec.exporter.port;
    const clash = portsOf(containers).find((p) => p.port === port && p.protocol === 'TCP');
    if (clash) errs.push(duplicate('spec.exporter.port', port, `${clash.field} uses it`));
  }

  errs.push(...validateResources('spec.resources', spec.resources));
  errs.push(...validateParameterDefinitions(spec.parameters, 'spec.parameters'));
  validateConfigFiles(spec, errs);

  const credentialNames = new Set<string>();
  listOf(spec.credentials).forEach((c, i) => {
    const name = (c as { name?: string })?.name;
    if (typeof name !== 'string') return;
    if (credentialNames.has(name)) errs.push(duplicate(`spec.credentials[${i}].name`, name));
    credentialNames.add(name);
  });
  return errs;
}
