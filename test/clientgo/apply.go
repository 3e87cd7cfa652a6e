package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// applied is an apply configuration of a UnitSet: only the fields its manager owns.
func (e *env) applied(name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": unitSets.GroupVersion().String(),
		"kind":       "UnitSet",
		"metadata":   map[string]any{"name": name, "labels": map[string]any{runLabel: e.run}},
		"spec":       spec,
	}}
}

// owned returns, per manager, the operation and the fields it owns (fieldsV1 as JSON).
func owned(u *unstructured.Unstructured) map[string][2]string {
	out := map[string][2]string{}
	for _, m := range u.GetManagedFields() {
		fields := ""
		if m.FieldsV1 != nil {
			fields = string(m.FieldsV1.Raw)
		}
		out[m.Manager] = [2]string{string(m.Operation), fields}
	}
	return out
}

func checkServerSideApply(ctx context.Context, e *env) error {
	res, err := e.unitSets()
	if err != nil {
		return err
	}
	name := e.name("ssa")
	spec := map[string]any{"type": "mysql", "version": "8.0.36", "units": int64(1)}
	obj, err := res.Apply(ctx, name, e.applied(name, spec), metav1.ApplyOptions{FieldManager: "clientgo-a"})
	if err != nil {
		return fmt.Errorf("apply (create): %w", err)
	}
	m := owned(obj)
	if m["clientgo-a"][0] != "Apply" || !strings.Contains(m["clientgo-a"][1], `"f:units"`) {
		return fmt.Errorf("after apply, managedFields are %v", m)
	}
	// The same configuration again changes nothing.
	again, err := res.Apply(ctx, name, e.applied(name, spec), metav1.ApplyOptions{FieldManager: "clientgo-a"})
	if err != nil {
		return fmt.Errorf("apply (no change): %w", err)
	}
	if again.GetResourceVersion() != obj.GetResourceVersion() {
		return fmt.Errorf("applying the same configuration again wrote the object (resourceVersion %s -> %s)", obj.GetResourceVersion(), again.GetResourceVersion())
	}
	// Dropping a field from the configuration removes it from the object.
	withLabel := e.applied(name, spec)
	withLabel.SetLabels(map[string]string{runLabel: e.run, "applied": "yes"})
	if _, err := res.Apply(ctx, name, withLabel, metav1.ApplyOptions{FieldManager: "clientgo-a"}); err != nil {
		return fmt.Errorf("apply (add a label): %w", err)
	}
	dropped, err := res.Apply(ctx, name, e.applied(name, spec), metav1.ApplyOptions{FieldManager: "clientgo-a"})
	if err != nil {
		return fmt.Errorf("apply (drop the label): %w", err)
	}
	if _, ok := dropped.GetLabels()["applied"]; ok {
		return fmt.Errorf("a label dropped from the applied configuration stayed: %v", dropped.GetLabels())
	}
	// A dry run answers what the apply would make of the object and leaves it unchanged.
	dry, err := res.Apply(ctx, name, e.applied(name, map[string]any{"type": "mysql", "version": "8.0.36", "units": int64(5)}),
		metav1.ApplyOptions{FieldManager: "clientgo-a", DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		return fmt.Errorf("dry-run apply: %w", err)
	}
	if units(dry) != 5 {
		return fmt.Errorf("dry-run apply returned units %d", units(dry))
	}
	cur, err := res.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if units(cur) != 1 || cur.GetResourceVersion() != dropped.GetResourceVersion() {
		return fmt.Errorf("dry-run apply changed the object (units %d)", units(cur))
	}
	return nil
}

func checkApplyConflict(ctx context.Context, e *env) error {
	res, err := e.unitSets()
	if err != nil {
		return err
	}
	name := e.name("ssa")
	b := map[string]any{"type": "mysql", "version": "8.0.36", "units": int64(2)}
	_, err = res.Apply(ctx, name, e.applied(name, b), metav1.ApplyOptions{FieldManager: "clientgo-b"})
	if !apierrors.IsConflict(err) {
		return fmt.Errorf("a second manager applying another spec.units: want Conflict, got %v", err)
	}
	var status apierrors.APIStatus
	if !errorsAs(err, &status) || status.Status().Details == nil {
		return fmt.Errorf("the Conflict has no details: %v", err)
	}
	causes, _ := json.Marshal(status.Status().Details.Causes)
	if !strings.Contains(string(causes), `".spec.units"`) || !strings.Contains(err.Error(), `"clientgo-a"`) {
		return fmt.Errorf("the Conflict does not name .spec.units and manager clientgo-a: %v (causes %s)", err, causes)
	}
	forced, err := res.Apply(ctx, name, e.applied(name, b), metav1.ApplyOptions{FieldManager: "clientgo-b", Force: true})
	if err != nil {
		return fmt.Errorf("apply with force: %w", err)
	}
	if units(forced) != 2 {
		return fmt.Errorf("forced apply returned units %d", units(forced))
	}
	m := owned(forced)
	if !strings.Contains(m["clientgo-b"][1], `"f:units"`) || strings.Contains(m["clientgo-a"][1], `"f:units"`) {
		return fmt.Errorf("after the forced apply spec.units should belong to clientgo-b only: %v", m)
	}
	if !strings.Contains(m["clientgo-a"][1], `"f:type"`) {
		return fmt.Errorf("clientgo-a lost fields it still shares: %v", m)
	}
	return nil
}
