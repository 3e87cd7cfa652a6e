// The configuration files of a Unit, rendered from the UnitTemplate's file templates and the
// Unit's parameter values, and the ConfigMap that carries them into the Pod.

import type { V1ConfigMap, V1Container, V1PodSpec } from '@kubernetes/client-node';
import type { Unit, UnitTemplate } from '../../../api/generated/types.js';
import { configRevisionAnnotation, unitLabel, unitSetLabel } from '../../../api/labels.js';
import { parseTemplate, TemplateError } from '../template/template.js';
import { hashOf } from './hash.js';
import { configMapName, unitAddress } from './names.js';
import { parameterDefinitions, resolveParameters, typedParameterValues, type ParameterProblem } from './parameters.js';
import { mainContainerName } from './podtemplate.js';
import { templateResources } from './resources.js';
import { controllerReference } from './units.js';

export interface RenderedConfig {
  /** Rendered content by file name. */
  files: Record<string, string>;
  /** Hash of the files: the Pod's upm.io/config-revision annotation and status.config.revision. */
  revision: string;
  /**
   * Hash of the files rendered with every dynamic parameter at its default: it changes only when
   * something other than a dynamic parameter changed the files, which needs a restart.
   */
  restartRevision: string;
  /** Values of the parameters that need a restart, as rendered. */
  restartParameters: Record<string, string>;
  /** Every parameter value, as text. */
  parameters: Record<string, string>;
}

export type ConfigProblem =
  ParameterProblem | { reason: 'TemplateError'; file: string; line: number; message: string; parameter?: undefined };

export type ConfigResult = { ok: true; config: RenderedConfig } | { ok: false; problems: ConfigProblem[] };

/** The data a config template sees: .Parameters, .Unit, .Resources, .Env. */
export function configTemplateData(
  unit: Unit,
  template: UnitTemplate,
  values: Record<string, string>,
): Record<string, unknown> {
  const name = unit.metadata.name!;
  const namespace = unit.metadata.namespace ?? 'default';
  const unitSet = unit.metadata.labels?.[unitSetLabel];
  const ordinal = Number(unit.metadata.labels?.['upm.io/ordinal'] ?? /-(\d+)$/.exec(name)?.[1] ?? 0);
  const main = mainContainer(unit, template);
  const env: Record<string, string> = {};
  for (const v of main?.env ?? []) if (v.value !== undefined && v.valueFrom === undefined) env[v.name] = v.value;
  return {
    Parameters: typedParameterValues(template, values),
    Unit: { name, namespace, ordinal, unitSet: unitSet ?? '', address: unitAddress(name, unitSet, namespace) },
    Resources: templateResources(unit.spec.resources ?? (main?.resources as Unit['spec']['resources'])),
    Env: env,
  };
}

function mainContainer(unit: Unit, template: UnitTemplate): V1Container | undefined {
  const name = unit.spec.mainContainer ?? mainContainerName(template);
  return (unit.spec.podTemplate.spec as unknown as V1PodSpec).containers?.find((c) => c.name === name);
}

/** Renders every config file of `template` for `unit`; problems (bad parameters, template errors) instead of files. */
export function renderConfig(unit: Unit, template: UnitTemplate): ConfigResult {
  const { values, problems } = resolveParameters(template, unit.spec.config?.parameters);
  if (problems.length > 0) return { ok: false, problems };
  const rendered = renderFiles(unit, template, values);
  if (!rendered.ok) return rendered;

  // Dynamic parameters back at their defaults: what remains different needs a restart.
  const defs = parameterDefinitions(template);
  const restartValues: Record<string, string> = {};
  const restartParameters: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    const def = defs.get(name)!;
    if (def.dynamic && def.default !== undefined) restartValues[name] = def.default;
    else restartValues[name] = value;
    if (!def.dynamic) restartParameters[name] = value;
  }
  const baseline = renderFiles(unit, template, restartValues);
  const files = rendered.files;
  return {
    ok: true,
    config: {
      files,
      revision: hashOf(files),
      restartRevision: hashOf(baseline.ok ? baseline.files : files),
      restartParameters,
      parameters: values,
    },
  };
}

function renderFiles(
  unit: Unit,
  template: UnitTemplate,
  values: Record<string, string>,
): { ok: true; files: Record<string, string> } | { ok: false; problems: ConfigProblem[] } {
  const data = configTemplateData(unit, template, values);
  const files: Record<string, string> = {};
  const problems: ConfigProblem[] = [];
  for (const file of template.spec.configFiles ?? []) {
    try {
      files[file.name] = parseTemplate(file.name, file.template).execute(data);
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
      problems.push({ reason: 'TemplateError', file: e.file, line: e.line, message: e.message });
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, files };
}

/** The ConfigMap `<unit>-config` holding the rendered files, owned by the Unit. */
export function configMap(unit: Unit, config: RenderedConfig): V1ConfigMap {
  const labels: Record<string, string> = { [unitLabel]: unit.metadata.name! };
  const unitSet = unit.metadata.labels?.[unitSetLabel];
  if (unitSet) labels[unitSetLabel] = unitSet;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: configMapName(unit.metadata.name!),
      namespace: unit.metadata.namespace,
      labels,
      annotations: { [configRevisionAnnotation]: config.revision },
      ownerReferences: [controllerReference(unit)],
    },
    data: { ...config.files },
  };
}
