package main

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
)

// unitSet is a minimal valid UnitSet labelled as this run's.
func (e *env) unitSet(name string, units int64, labels map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": unitSets.GroupVersion().String(),
		"kind":       "UnitSet",
		"metadata":   map[string]any{"name": name},
		"spec":       map[string]any{"type": "mysql", "version": "8.0.36", "units": units},
	}}
	all := map[string]string{runLabel: e.run}
	for k, v := range labels {
		all[k] = v
	}
	u.SetLabels(all)
	return u
}

func (e *env) unitSets() (dynamic.ResourceInterface, error) {
	client, err := dynamic.NewForConfig(e.config)
	if err != nil {
		return nil, err
	}
	return client.Resource(unitSets).Namespace(e.namespace), nil
}

func units(u *unstructured.Unstructured) int64 {
	n, _, _ := unstructured.NestedInt64(u.Object, "spec", "units")
	return n
}

func checkCreateGet(ctx context.Context, e *env) error {
	res, err := e.unitSets()
	if err != nil {
		return err
	}
	created, err := res.Create(ctx, e.unitSet(e.name("crud"), 1, map[string]string{"tier": "a"}), metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if created.GetUID() == "" || created.GetResourceVersion() == "" || created.GetGeneration() != 1 {
		return fmt.Errorf("create returned uid %q, resourceVersion %q, generation %d", created.GetUID(), created.GetResourceVersion(), created.GetGeneration())
	}
	if ts := created.GetCreationTimestamp(); created.GetNamespace() != e.namespace || ts.IsZero() {
		return fmt.Errorf("create returned namespace %q, creationTimestamp %v", created.GetNamespace(), created.GetCreationTimestamp())
	}
	got, err := res.Get(ctx, created.GetName(), metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	if got.GetUID() != created.GetUID() || got.GetResourceVersion() != created.GetResourceVersion() || units(got) != 1 {
		return fmt.Errorf("get returned uid %s rv %s units %d, create returned uid %s rv %s", got.GetUID(), got.GetResourceVersion(), units(got), created.GetUID(), created.GetResourceVersion())
	}
	if got.GetKind() != "UnitSet" || got.GetAPIVersion() != unitSets.GroupVersion().String() {
		return fmt.Errorf("get returned %s %s", got.GetAPIVersion(), got.GetKind())
	}
	_, err = res.Create(ctx, e.unitSet(e.name("crud"), 1, nil), metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the same name again: want AlreadyExists, got %v", err)
	}
	if _, err := res.Get(ctx, e.name("missing"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		return fmt.Errorf("get of a missing name: want NotFound, got %v", err)
	}
	return nil
}

func checkListSelector(ctx context.Context, e *env) error {
	res, err := e.unitSets()
	if err != nil {
		return err
	}
	if _, err := res.Create(ctx, e.unitSet(e.name("crud-b"), 1, map[string]string{"tier": "b"}), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	for selector, want := range map[string][]string{
		runLabel + "=" + e.run + ",tier=a":         {e.name("crud")},
		runLabel + "=" + e.run + ",tier in (a,b)":  {e.name("crud"), e.name("crud-b")},
		runLabel + "=" + e.run + ",tier!=a":        {e.name("crud-b")},
		runLabel + "=" + e.run + ",!tier":          {},
		runLabel + "=" + e.run + ",tier notin (a)": {e.name("crud-b")},
	} {
		list, err := res.List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return fmt.Errorf("list %q: %w", selector, err)
		}
		var names []string
		for _, item := range list.Items {
			names = append(names, item.GetName())
		}
		if fmt.Sprint(names) != fmt.Sprint(want) {
			return fmt.Errorf("list %q returned %v, want %v", selector, names, want)
		}
		if list.GetResourceVersion() == "" {
			return fmt.Errorf("list %q has no resourceVersion", selector)
		}
	}
	paged, err := res.List(ctx, metav1.ListOptions{LabelSelector: runLabel + "=" + e.run, Limit: 1})
	if err != nil {
		return fmt.Errorf("list with limit: %w", err)
	}
	if len(paged.Items) != 1 || paged.GetContinue() == "" {
		return fmt.Errorf("list with limit 1 returned %d items, continue %q", len(paged.Items), paged.GetContinue())
	}
	rest, err := res.List(ctx, metav1.ListOptions{LabelSelector: runLabel + "=" + e.run, Limit: 1, Continue: paged.GetContinue()})
	if err != nil {
		return fmt.Errorf("list continue: %w", err)
	}
	if len(rest.Items) != 1 || rest.Items[0].GetName() == paged.Items[0].GetName() {
		return fmt.Errorf("the continued list returned %d items", len(rest.Items))
	}
	return nil
}

func checkUpdate(ctx context.Context, e *env) error {
	res, err := e.unitSets()
	if err != nil {
		return err
	}
	cur, err := res.Get(ctx, e.name("crud"), metav1.GetOptions{})
	if err != nil {
		return err
	}
	stale := cur.DeepCopy()
	if err := unstructured.SetNestedField(cur.Object, int64(2), "spec", "units"); err != nil {
		return err
	}
	updated, err := res.Update(ctx, cur, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if units(updated) != 2 || updated.GetGeneration() != 2 || updated.GetResourceVersion() == cur.GetResourceVersion() {
		return fmt.Errorf("update returned units %d, generation %d, resourceVersion %s (was %s)", units(updated), updated.GetGeneration(), updated.GetResourceVersion(), cur.GetResourceVersion())
	}
	stale.SetAnnotations(map[string]string{"stale": "true"})
	if _, err := res.Update(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		return fmt.Errorf("update with the old resourceVersion: want Conflict, got %v", err)
	}
	return nil
}

func checkMergePatch(ctx context.Context, e *env) error {
	res, err := e.unitSets()
	if err != nil {
		return err
	}
	patched, err := res.Patch(ctx, e.name("crud"), types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"patched":"merge"},"annotations":{"note":"merge"}},"spec":{"units":3}}`), metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("merge patch: %w", err)
	}
	if patched.GetLabels()["patched"] != "merge" || patched.GetLabels()["tier"] != "a" || units(patched) != 3 || patched.GetAnnotations()["note"] != "merge" {
		return fmt.Errorf("merge patch returned labels %v, annotations %v, units %d", patched.GetLabels(), patched.GetAnnotations(), units(patched))
	}
	// null removes a key in a merge patch.
	patched, err = res.Patch(ctx, e.name("crud"), types.MergePatchType, []byte(`{"metadata":{"annotations":{"note":null}}}`), metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("merge patch removing an annotation: %w", err)
	}
	if _, ok := patched.GetAnnotations()["note"]; ok {
		return fmt.Errorf("merge patch with null kept the annotation: %v", patched.GetAnnotations())
	}
	_, err = res.Patch(ctx, e.name("missing"), types.MergePatchType, []byte(`{}`), metav1.PatchOptions{})
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("merge patch of a missing object: want NotFound, got %v", err)
	}
	return nil
}

func checkJSONPatch(ctx context.Context, e *env) error {
	res, err := e.unitSets()
	if err != nil {
		return err
	}
	patched, err := res.Patch(ctx, e.name("crud"), types.JSONPatchType, []byte(`[
		{"op":"test","path":"/spec/units","value":3},
		{"op":"replace","path":"/spec/units","value":4},
		{"op":"add","path":"/metadata/labels/patched","value":"json"}]`), metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("JSON patch: %w", err)
	}
	if units(patched) != 4 || patched.GetLabels()["patched"] != "json" {
		return fmt.Errorf("JSON patch returned units %d, labels %v", units(patched), patched.GetLabels())
	}
	_, err = res.Patch(ctx, e.name("crud"), types.JSONPatchType, []byte(`[{"op":"test","path":"/spec/units","value":3},{"op":"replace","path":"/spec/units","value":5}]`), metav1.PatchOptions{})
	if !apierrors.IsInvalid(err) {
		return fmt.Errorf("JSON patch whose test fails: want Invalid (422), got %v", err)
	}
	_, err = res.Patch(ctx, e.name("crud"), types.JSONPatchType, []byte(`[{"op":"replace","path":"/spec/units","value":-1}]`), metav1.PatchOptions{})
	if !apierrors.IsInvalid(err) {
		return fmt.Errorf("JSON patch to a negative units: want Invalid (422), got %v", err)
	}
	got, err := res.Get(ctx, e.name("crud"), metav1.GetOptions{})
	if err != nil {
		return err
	}
	if units(got) != 4 {
		return fmt.Errorf("refused patches changed spec.units to %d", units(got))
	}
	return nil
}

func checkDelete(ctx context.Context, e *env) error {
	res, err := e.unitSets()
	if err != nil {
		return err
	}
	got, err := res.Get(ctx, e.name("crud"), metav1.GetOptions{})
	if err != nil {
		return err
	}
	wrongUID := types.UID("00000000-0000-0000-0000-000000000000")
	err = res.Delete(ctx, got.GetName(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &wrongUID}})
	if !apierrors.IsConflict(err) {
		return fmt.Errorf("delete with a wrong UID precondition: want Conflict, got %v", err)
	}
	uid := got.GetUID()
	if err := res.Delete(ctx, got.GetName(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if _, err := res.Get(ctx, got.GetName(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		return fmt.Errorf("get after delete: want NotFound, got %v", err)
	}
	if err := res.Delete(ctx, got.GetName(), metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		return fmt.Errorf("second delete: want NotFound, got %v", err)
	}
	if err := res.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: runLabel + "=" + e.run + ",tier=b"}); err != nil {
		return fmt.Errorf("deletecollection: %w", err)
	}
	left, err := res.List(ctx, metav1.ListOptions{LabelSelector: runLabel + "=" + e.run + ",tier"})
	if err != nil {
		return err
	}
	if len(left.Items) != 0 {
		return fmt.Errorf("deletecollection left %d UnitSets", len(left.Items))
	}
	return nil
}

// checkMetadataClient: the metadata-only client the garbage collector and namespace controller
// use (PartialObjectMetadata and PartialObjectMetadataList through the Accept header).
func checkMetadataClient(ctx context.Context, e *env) error {
	res, err := e.unitSets()
	if err != nil {
		return err
	}
	created, err := res.Create(ctx, e.unitSet(e.name("meta"), 1, map[string]string{"check": "metadata"}), metav1.CreateOptions{})
	if err != nil {
		return err
	}
	client, err := metadata.NewForConfig(e.config)
	if err != nil {
		return err
	}
	m := client.Resource(unitSets).Namespace(e.namespace)
	list, err := m.List(ctx, metav1.ListOptions{LabelSelector: runLabel + "=" + e.run + ",check=metadata"})
	if err != nil {
		return fmt.Errorf("metadata list: %w", err)
	}
	// Items' kind is not asserted: in protobuf, which client-go asks for first, items carry none.
	if len(list.Items) != 1 || list.Items[0].UID != created.GetUID() {
		return fmt.Errorf("metadata list returned %+v", list.Items)
	}
	got, err := m.Get(ctx, created.GetName(), metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("metadata get: %w", err)
	}
	if got.UID != created.GetUID() || got.ResourceVersion != created.GetResourceVersion() || got.Labels["check"] != "metadata" {
		return fmt.Errorf("metadata get returned %+v", got.ObjectMeta)
	}
	if err := m.Delete(ctx, created.GetName(), metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("metadata delete: %w", err)
	}
	return nil
}
