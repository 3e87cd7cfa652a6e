// The UnitSet controller: keeps Units `<name>-<ordinal>` from the UnitSet's UnitTemplate, scales up
// in parallel and down from the highest ordinal (claims kept or removed per
// storage.persistentVolumeClaimRetentionPolicy), rolls a new revision out under the update strategy,
// keeps the headless, client Services and the PodDisruptionBudget, and reports status and
// conditions. Every step is computed by the pure planners of ../specs from what the caches hold,
// and written with server-side apply, so a pass after a crash, or over objects someone edited,
// converges from wherever things stand. Bad input (a missing template, an unknown parameter) is a
// condition and an Event, and nothing is created or deleted because of it.

import { randomInt } from 'node:crypto';
import type { V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import type { Unit, UnitSet, UnitTemplate } from '../../../api/generated/types.js';
import { unitSetLabel } from '../../../api/labels.js';
import { defaultUnitTemplateName } from '../../../api/unitset.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../../machinery/errors.js';
import type { KubeObject } from '../../../machinery/object.js';
import { podDisruptionBudgets, secrets, services, unitSets, units } from '../../resources.js';
import type { KubeClient, ResourceType } from '../../runtime/client.js';
import type { ReconcileContext, Request, Result } from '../../runtime/controller.js';
import type { EventRecorder } from '../../runtime/events.js';
import type { Informer } from '../../runtime/informer.js';
import { classifyChange } from '../specs/change.js';
import { generatedCredentialSecrets } from '../specs/credentials.js';
import {
  clientServiceName,
  claimName,
  headlessServiceName,
  ordinalOf,
  podDisruptionBudgetName,
} from '../specs/names.js';
import { claimOwnerReferences } from '../specs/pod.js';
import { planRollout, planScale, unitState, type UnitState } from '../specs/rollout.js';
import { clientService, headlessService, podDisruptionBudget } from '../specs/services.js';
import { unitSetStatus, type Problem } from '../specs/status.js';
import { renderUnitTemplate, unitFor } from '../specs/units.js';

export const unitSetFieldManager = 'upm.io/unitset-controller';
export const unitSetCleanupFinalizer = 'upm.io/unitset-cleanup';
/** Index of Units, Pods and claims by `<namespace>/<unitset>` (their upm.io/unitset label). */
export const byUnitSet = 'unitset';
/** Index of UnitSets by the UnitTemplate they resolve to. */
export const byTemplate = 'template';

export const unitSetKeyOf = (o: KubeObject): string[] => {
  const set = o.metadata.labels?.[unitSetLabel];
  return set ? [`${o.metadata.namespace ?? ''}/${set}`] : [];
};
export const templateNameOf = (us: UnitSet): string => us.spec.template ?? defaultUnitTemplateName(us.spec);

export interface UnitSetCaches {
  unitSets: Informer;
  units: Informer;
  templates: Informer;
  pods: Informer;
  claims: Informer;
  services: Informer;
  budgets: Informer;
  secrets: Informer;
}

const asObject = (o: unknown) => o as KubeObject;

export class UnitSetReconciler {
  constructor(
    private readonly client: KubeClient,
    private readonly caches: UnitSetCaches,
    private readonly events: EventRecorder,
    private readonly now: () => Date = () => new Date(),
  ) {}

  readonly reconcile = async (req: Request, ctx: ReconcileContext): Promise<Result | void> => {
    const unitSet = this.caches.unitSets.get(req.namespace, req.name) as unknown as UnitSet | undefined;
    if (!unitSet) return;
    if (unitSet.metadata.deletionTimestamp) return this.cleanUp(unitSet);
    if (!unitSet.metadata.finalizers?.includes(unitSetCleanupFinalizer)) {
      await this.client.apply(
        unitSets,
        asObject({
          apiVersion: unitSet.apiVersion,
          kind: 'UnitSet',
          metadata: { name: req.name, namespace: req.namespace, finalizers: [unitSetCleanupFinalizer] },
        }),
        unitSetFieldManager,
      );
    }

    const existing = this.ownedUnits(unitSet);
    const templateName = templateNameOf(unitSet);
    const template = this.caches.templates.get(undefined, templateName) as unknown as UnitTemplate | undefined;
    if (!template) {
      const problem = { reason: 'TemplateNotFound', message: `UnitTemplate ${templateName} does not exist` };
      this.warnOnce(unitSet, problem, 'ResolveTemplate');
      return this.writeStatus(unitSet, this.states(unitSet, existing), { problem });
    }
    const mismatch = templateMismatch(unitSet, template);
    if (mismatch) {
      this.warnOnce(unitSet, mismatch, 'ResolveTemplate');
      return this.writeStatus(unitSet, this.states(unitSet, existing), { problem: mismatch });
    }
    const rendering = renderUnitTemplate(unitSet, template);
    if (rendering.problems.length > 0) {
      const problem = {
        reason: rendering.problems[0].reason,
        message: rendering.problems.map((p) => `parameter ${p.parameter}: ${p.message}`).join('; '),
      };
      this.warnOnce(unitSet, problem, 'RenderUnits');
      return this.writeStatus(unitSet, this.states(unitSet, existing), {
        name: templateName,
        revision: rendering.revision,
        problems: [problem],
      });
    }

    const desired = (ordinal: number) => unitFor(unitSet, rendering, ordinal);
    const states = this.states(unitSet, existing, (unit, ordinal) => {
      const change = classifyChange(unit, desired(ordinal), template);
      return change.kind === 'Disruptive';
    });

    // Scale: create what is missing (all at once), remove from the highest ordinal.
    const scale = planScale(unitSet, states);
    if (scale.create.length > 0) {
      await Promise.all(
        scale.create.map((name) =>
          this.client.apply(units, asObject(desired(ordinalOf(unitSet.metadata.name!, name)!)), unitSetFieldManager),
        ),
      );
      this.events.event(asObject(unitSet), 'Normal', 'ScalingUp', 'CreateUnits', `created ${scale.create.join(', ')}`);
    }
    let waitingForClaims = false;
    for (const removal of scale.remove) {
      const unit = existing.find((u) => u.metadata.name === removal.name)!;
      if (!removal.policySet) {
        await this.client.patch(
          units,
          req.namespace,
          removal.name,
          { spec: { volumeClaimRetentionPolicy: removal.claims } },
          'merge',
          {
            fieldManager: unitSetFieldManager,
          },
        );
        waitingForClaims = true;
        continue;
      }
      if (!this.claimsFollow(unit)) {
        waitingForClaims = true;
        continue;
      }
      await this.deleteIgnoringGone(units, req.namespace, removal.name, unit.metadata.uid);
      this.events.event(
        asObject(unitSet),
        'Normal',
        'ScalingDown',
        'DeleteUnit',
        `deleted ${removal.name} (claims ${removal.claims === 'Delete' ? 'deleted' : 'kept'})`,
      );
    }

    // Roll the update revision out.
    const rollout = planRollout(unitSet, states, rendering.revision);
    for (const name of rollout.update) {
      await this.client.apply(units, asObject(desired(ordinalOf(unitSet.metadata.name!, name)!)), unitSetFieldManager);
      ctx.log?.info({ unit: name, revision: rendering.revision }, 'updating unit');
    }
    if (rollout.update.length > 0)
      this.events.event(
        asObject(unitSet),
        'Normal',
        'Updating',
        'UpdateUnits',
        `updating ${rollout.update.join(', ')} to revision ${rendering.revision}`,
      );

    await this.ensureCredentials(unitSet, template);
    await this.applyServices(unitSet, template);
    await this.writeStatus(unitSet, states, { name: templateName, revision: rendering.revision, rollout });
    if (waitingForClaims) return { requeueAfterMs: 500 };
  };

  private ownedUnits(unitSet: UnitSet): Unit[] {
    return (
      this.caches.units.byIndex(
        byUnitSet,
        `${unitSet.metadata.namespace}/${unitSet.metadata.name}`,
      ) as unknown as Unit[]
    ).filter((u) => (u.metadata.ownerReferences ?? []).some((r) => r.uid === unitSet.metadata.uid && r.controller));
  }

  private states(
    unitSet: UnitSet,
    existing: Unit[],
    disruptive?: (unit: Unit, ordinal: number) => boolean,
  ): UnitState[] {
    const out: UnitState[] = [];
    for (const unit of existing) {
      const pod = this.caches.pods.get(unit.metadata.namespace, unit.metadata.name!) as V1Pod | undefined;
      const base = unitState(unitSet.metadata.name!, unit, pod);
      if (!base) continue;
      if (disruptive) base.disruptive = disruptive(unit, base.ordinal);
      out.push(base);
    }
    return out;
  }

  /** Whether the claims of a Unit about to go have the owner references its retention policy asks for. */
  private claimsFollow(unit: Unit): boolean {
    for (const claim of unit.spec.volumeClaimTemplates ?? []) {
      const pvc = this.caches.claims.get(unit.metadata.namespace, claimName(unit.metadata.name!, claim.name)) as
        V1PersistentVolumeClaim | undefined;
      if (!pvc) continue;
      const want = claimOwnerReferences(unit, pvc.metadata?.ownerReferences as never)
        .map((r) => r.uid)
        .sort();
      const have = (pvc.metadata?.ownerReferences ?? []).map((r) => r.uid).sort();
      if (JSON.stringify(want) !== JSON.stringify(have)) return false;
    }
    return true;
  }

  /** Generated credential Secrets are created once and never rewritten (the data holds the password). */
  private async ensureCredentials(unitSet: UnitSet, template: UnitTemplate): Promise<void> {
    for (const secret of generatedCredentialSecrets(unitSet, template, randomPassword)) {
      if (this.caches.secrets.get(secret.metadata!.namespace, secret.metadata!.name!)) continue;
      try {
        await this.client.create(secrets, secret as unknown as KubeObject, unitSetFieldManager);
        this.events.event(
          asObject(unitSet),
          'Normal',
          'CredentialGenerated',
          'CreateSecret',
          `generated Secret ${secret.metadata!.name}`,
        );
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
    }
  }

  private async applyServices(unitSet: UnitSet, template: UnitTemplate): Promise<void> {
    const ns = unitSet.metadata.namespace;
    const name = unitSet.metadata.name!;
    await this.applyIfChanged(services, this.caches.services, headlessService(unitSet, template));
    const client = clientService(unitSet, template);
    if (client) await this.applyIfChanged(services, this.caches.services, client);
    else {
      const stale = this.caches.services.get(ns, clientServiceName(name));
      if (stale && controlledBy(stale, unitSet)) await this.deleteIgnoringGone(services, ns, clientServiceName(name));
    }
    await this.applyIfChanged(podDisruptionBudgets, this.caches.budgets, podDisruptionBudget(unitSet));
  }

  /** Applies `desired` unless the cached object already has every field it sets. */
  private async applyIfChanged(type: ResourceType, cache: Informer, desired: unknown): Promise<void> {
    const d = desired as KubeObject;
    const current = cache.get(d.metadata.namespace, d.metadata.name!);
    if (current && contains(current, d)) return;
    await this.client.apply(type, d, unitSetFieldManager);
  }

  private async cleanUp(unitSet: UnitSet): Promise<Result | void> {
    if (!unitSet.metadata.finalizers?.includes(unitSetCleanupFinalizer)) return;
    const ns = unitSet.metadata.namespace;
    const name = unitSet.metadata.name!;
    const owned: [ResourceType, KubeObject | undefined][] = [
      [services, this.caches.services.get(ns, headlessServiceName(name))],
      [services, this.caches.services.get(ns, clientServiceName(name))],
      [podDisruptionBudgets, this.caches.budgets.get(ns, podDisruptionBudgetName(name))],
    ];
    for (const [type, obj] of owned) {
      if (obj && controlledBy(obj, unitSet) && !obj.metadata.deletionTimestamp)
        await this.deleteIgnoringGone(type, ns, obj.metadata.name!, obj.metadata.uid);
    }
    await this.client.patch(
      unitSets,
      ns,
      name,
      [
        { op: 'test', path: '/metadata/resourceVersion', value: unitSet.metadata.resourceVersion },
        {
          op: 'replace',
          path: '/metadata/finalizers',
          value: unitSet.metadata.finalizers.filter((f) => f !== unitSetCleanupFinalizer),
        },
      ],
      'json',
    );
  }

  private async deleteIgnoringGone(type: ResourceType, ns: string | undefined, name: string, uid?: string) {
    try {
      await this.client.delete(type, ns, name, uid ? { uid } : {});
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  private readonly warned = new Map<string, string>();

  /** One Warning event per UnitSet generation and problem (the condition carries it between). */
  private warnOnce(unitSet: UnitSet, problem: Problem, action: string): void {
    const key = `${unitSet.metadata.uid}`;
    const text = `${unitSet.metadata.generation}:${problem.reason}:${problem.message}`;
    if (this.warned.get(key) === text) return;
    this.warned.set(key, text);
    this.events.event(asObject(unitSet), 'Warning', problem.reason, action, problem.message);
  }

  private async writeStatus(
    unitSet: UnitSet,
    states: UnitState[],
    t:
      | { problem: Problem }
      | { name: string; revision: string; rollout?: ReturnType<typeof planRollout>; problems?: Problem[] },
  ): Promise<void> {
    const status = unitSetStatus({
      unitSet,
      units: states,
      template: 'problem' in t ? { problem: t.problem } : { name: t.name, revision: t.revision },
      ...('rollout' in t && t.rollout ? { rollout: t.rollout } : {}),
      ...('problems' in t && t.problems ? { problems: t.problems } : {}),
      now: this.now(),
    });
    await this.client.applyStatus(unitSets, unitSet, status, unitSetFieldManager);
  }
}

const passwordAlphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** 24 characters, uniformly from a URL- and shell-safe alphabet of 56 (about 139 bits). */
function randomPassword(): string {
  return Array.from({ length: 24 }, () => passwordAlphabet[randomInt(passwordAlphabet.length)]).join('');
}

/** The template must be for the UnitSet's service: type, edition and version. */
function templateMismatch(unitSet: UnitSet, template: UnitTemplate): Problem | undefined {
  const t = template.spec;
  const s = unitSet.spec;
  const wrong: string[] = [];
  if (t.type !== s.type) wrong.push(`type ${t.type} (UnitSet wants ${s.type})`);
  if (t.version !== s.version) wrong.push(`version ${t.version} (UnitSet wants ${s.version})`);
  if (s.edition && t.edition && t.edition !== s.edition)
    wrong.push(`edition ${t.edition} (UnitSet wants ${s.edition})`);
  if (wrong.length === 0) return undefined;
  return { reason: 'TemplateMismatch', message: `UnitTemplate ${template.metadata.name} is for ${wrong.join(', ')}` };
}

function controlledBy(obj: KubeObject, owner: UnitSet): boolean {
  return (obj.metadata.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid);
}

/** Whether `have` holds every field `want` sets (arrays compared whole). */
function contains(have: unknown, want: unknown): boolean {
  if (want === null || typeof want !== 'object') return have === want;
  if (Array.isArray(want))
    return Array.isArray(have) && have.length === want.length && want.every((w, i) => contains(have[i], w));
  if (have === null || typeof have !== 'object' || Array.isArray(have)) return false;
  return Object.entries(want).every(([k, v]) => v === undefined || contains((have as Record<string, unknown>)[k], v));
}
