// The configuration files of a UnitTemplate rendered as the controllers render them
// (src/controllers/cube: the same template engine and template data), for a sample Unit with
// the parameter defaults: what the UnitTemplate webhook checks before any Unit uses it.

import type { Unit, UnitTemplate } from '../../api/generated/types.js';
import type { DefaultsRenderer } from '../../api/rules/unittemplate.js';
import { unitSetLabel } from '../../api/labels.js';
import { renderConfig } from '../../controllers/cube/specs/config.js';

function sampleUnit(template: UnitTemplate): Unit {
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'Unit',
    metadata: { name: 'sample-0', namespace: 'default', labels: { [unitSetLabel]: 'sample', 'upm.io/ordinal': '0' } },
    spec: {
      unitTemplate: template.metadata?.name ?? '',
      podTemplate: template.spec.podTemplate,
      ...(template.spec.resources ? { resources: template.spec.resources } : {}),
    },
  } as Unit;
}

export const renderWithDefaults: DefaultsRenderer = (template) => {
  const result = renderConfig(sampleUnit(template), template);
  if (result.ok) return { files: result.config.files };
  // Invalid defaults are reported by the parameter rules; only template problems are new here.
  const problems = result.problems.flatMap((p) =>
    p.reason === 'TemplateError' ? [{ file: p.file, message: p.message }] : [],
  );
  return problems.length > 0 ? { problems } : { files: {} };
};
