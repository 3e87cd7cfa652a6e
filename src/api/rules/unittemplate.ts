// UnitTemplate rules a schema cannot state: the Pod template is a usable Pod spec with the main
// container; the parameter
// definitions are consistent; every configuration file renders with the parameter defaults
// (given a renderer); names, ports and mount paths do not collide.

import { parse as parseYAML } from 'yaml';
import type { FieldError } from '../../machinery/errors.js';
import type { KubeObject } from '../../machinery/object.js';
import { quantityValue } from '../../machinery/quantity.js';
import type { UnitTemplate, UnitTemplateSpec } from '../generated/types.js';
import { duplicate, forbidden, invalid, isPlainRecord, isQuantity, listOf, notFound, required } from './fields.js';
import { validateResources } from './fields.js';
import { validateParameterDefinitions } from './parameters.js';
import { containersOf, portsOf, validatePodSpec } from './podspec.js';

/** The name of the container that runs the service. */
export function mainContainerName(spec: Pick<UnitTemplateSpec, 'mainContainer' | 'type'>): string {
  return spec.mainContainer ?? spec.type;
}

/**
 * Renders every configuration file of a template with its parameter defaults, for a sample Unit,
 * with the engine the controllers render with (src/controllers/cube/template): the files, or
 * what kept each from rendering (`file` names the config file).
 */
export type DefaultsRenderer = (
  template: UnitTemplate,
) => { files: Record<string, string> } | { problems: { file: string; message: string }[] };

export type ConfigFormat = 'ini' | 'conf' | 'yaml' | 'json' | 'toml' | 'properties' | 'xml' | 'libconfig' | 'text';

/** Why rendered text is not well-formed for its format; undefined when it is or no parser checks the format. */
export function renderedFormatProblem(format: ConfigFormat, text: string): string | undefined {
  try {
    if (format === 'json') JSON.parse(text);
    else if (format === 'yaml') parseYAML(text);
    else if (format === 'ini') {
      const bad = text.split('\n').findIndex((l) => /^\s*\[/.test(l) && !/^\s*\[[^\]]+\]\s*$/.test(l));
      if (bad >= 0) return `the rendered file is not valid ini: line ${bad + 1}: ${text.split('\n')[bad]!.trim()}`;
    }
  } catch (err) {
    return `the rendered file is not valid ${format}: ${(err as Error).message.split('\n')[0]}`;
  }
  return undefined;
}

function validateConfigFiles(
  obj: KubeObject,
  spec: UnitTemplateSpec,
  errs: FieldError[],
  render?: DefaultsRenderer,
): void {
  const files = spec.configFiles ?? [];
  const paths = new Set<string>();
  files.forEach((file, i) => {
    if (!file || typeof file.name !== 'string') return;
    const path = `${(file.mountPath ?? '').replace(/\/+$/, '')}/${file.name}`;
    if (paths.has(path))
      errs.push(
        duplicate(`spec.configFiles[${i}].name`, file.name, `another configuration file is written to ${path}`),
      );
    paths.add(path);
  });
  if (!render || files.length === 0) return;
  const result = render(obj as unknown as UnitTemplate);
  const index = (name: string) =>
    Math.max(
      0,
      files.findIndex((f) => f?.name === name),
    );
  if ('problems' in result) {
    for (const p of result.problems)
      errs.push({
        type: 'FieldValueInvalid',
        field: `spec.configFiles[${index(p.file)}].template`,
        detail: `${p.file} does not render with the parameter defaults: ${p.message}`,
      });
    return;
  }
  files.forEach((file, i) => {
    const text = result.files[file.name];
    if (text === undefined) return;
    const bad = renderedFormatProblem(file.format, text);
    if (bad)
      errs.push({
        type: 'FieldValueInvalid',
        field: `spec.configFiles[${i}].template`,
        detail: `${file.name}: ${bad}`,
      });
  });
}

/**
 * Field errors of a UnitTemplate (create and update alike). With `render`, the configuration
 * files are rendered with the parameter defaults too (the webhook passes the controllers'
 * engine; the API server's strategy, which cannot reach it, leaves that check to the webhook).
 */
export function validateUnitTemplate(obj: KubeObject, render?: DefaultsRenderer): FieldError[] {
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
  validateConfigFiles(obj, spec, errs, render);

  const credentialNames = new Set<string>();
  listOf(spec.credentials).forEach((c, i) => {
    const name = (c as { name?: string })?.name;
    if (typeof name !== 'string') return;
    if (credentialNames.has(name)) errs.push(duplicate(`spec.credentials[${i}].name`, name));
    credentialNames.add(name);
  });
  return errs;
}
