// Tesseract Cube: the UnitSet and Unit controllers on one manager, with the shared informers and
// indexes they read. Informers of core kinds select only objects with upm.io labels, so the
// controllers' memory grows with the databases they run, not with the cluster.

import type { Unit, UnitSet } from '../../api/generated/types.js';
import { unitLabel, unitSetLabel } from '../../api/labels.js';
import type { KubeObject } from '../../machinery/object.js';
import {
  configMaps,
  persistentVolumeClaims,
  podDisruptionBudgets,
  pods,
  secrets,
  services,
  unitSets,
  units,
  unitTemplates,
} from '../resources.js';
import { Controller, ownersOfKind, type Request } from '../runtime/controller.js';
import type { Manager } from '../runtime/manager.js';
import { UnitReconciler } from './unit/reconciler.js';
import { byTemplate, byUnitSet, templateNameOf, UnitSetReconciler, unitSetKeyOf } from './unitset/reconciler.js';

const upmApiVersion = `${unitSets.group}/${unitSets.version}`;
const byUnitTemplate = 'unitTemplate';

export interface CubeOptions {
  workers?: { unitSets?: number; units?: number };
}

export function addCube(mgr: Manager, opts: CubeOptions = {}): { unitSets: Controller; units: Controller } {
  const caches = {
    unitSets: mgr.informer(unitSets),
    units: mgr.informer(units),
    templates: mgr.informer(unitTemplates),
    pods: mgr.informer(pods, { labelSelector: unitLabel }),
    claims: mgr.informer(persistentVolumeClaims, { labelSelector: unitLabel }),
    configMaps: mgr.informer(configMaps, { labelSelector: unitLabel }),
    services: mgr.informer(services, { labelSelector: unitSetLabel }),
    budgets: mgr.informer(podDisruptionBudgets, { labelSelector: unitSetLabel }),
    secrets: mgr.informer(secrets, { labelSelector: unitSetLabel }),
  };
  caches.units.addIndex(byUnitSet, unitSetKeyOf);
  caches.units.addIndex(byUnitTemplate, (u) => [(u as unknown as Unit).spec?.unitTemplate ?? '']);
  caches.unitSets.addIndex(byTemplate, (us) => [templateNameOf(us as unknown as UnitSet)]);

  const byUnitLabel = (o: KubeObject): Request[] => {
    const unit = o.metadata.labels?.[unitLabel];
    return unit ? [{ namespace: o.metadata.namespace ?? '', name: unit }] : [];
  };
  const toUnitSet = (o: KubeObject): Request[] =>
    unitSetKeyOf(o).map((k) => {
      const [namespace, name] = k.split('/');
      return { namespace, name };
    });
  const keyToRequest = (o: KubeObject): Request => ({ namespace: o.metadata.namespace ?? '', name: o.metadata.name! });

  const unitSetRecon = new UnitSetReconciler(mgr.client, caches, mgr.recorder('upm.io/unitset-controller'));
  const unitSetCtrl = new Controller('unitset', unitSetRecon.reconcile, {
    workers: opts.workers?.unitSets ?? 4,
    metrics: mgr.metrics,
    log: mgr.log,
  })
    .for(caches.unitSets)
    .owns(caches.units, upmApiVersion, 'UnitSet')
    .watches(caches.pods, toUnitSet)
    .watches(caches.claims, toUnitSet)
    .owns(caches.services, upmApiVersion, 'UnitSet')
    .owns(caches.budgets, upmApiVersion, 'UnitSet')
    .watches(caches.templates, (t) => caches.unitSets.byIndex(byTemplate, t.metadata.name!).map(keyToRequest));

  const unitRecon = new UnitReconciler(mgr.client, caches, mgr.recorder('upm.io/unit-controller'));
  const unitCtrl = new Controller('unit', unitRecon.reconcile, {
    workers: opts.workers?.units ?? 8,
    metrics: mgr.metrics,
    log: mgr.log,
  })
    .for(caches.units)
    .watches(caches.pods, byUnitLabel)
    .watches(caches.configMaps, byUnitLabel)
    .watches(caches.claims, byUnitLabel)
    .watches(caches.services, (o) => ownersOfKind(o, upmApiVersion, 'Unit'))
    .watches(caches.templates, (t) => caches.units.byIndex(byUnitTemplate, t.metadata.name!).map(keyToRequest))
    .watches(caches.unitSets, (us) =>
      caches.units.byIndex(byUnitSet, `${us.metadata.namespace}/${us.metadata.name}`).map(keyToRequest),
    );

  mgr.add(unitSetCtrl);
  mgr.add(unitCtrl);
  return { unitSets: unitSetCtrl, units: unitCtrl };
}
