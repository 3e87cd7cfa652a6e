package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
)

// What discovery must say about unitsets (the verbs of a resource with create, update, patch,
// delete, deletecollection, get, list and watch; the short name of src/api/unitset.ts).
var unitSetVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

func describeUnitSets(lists []*metav1.APIResourceList) (metav1.APIResource, []string, error) {
	var found *metav1.APIResource
	var subresources []string
	for _, l := range lists {
		if l.GroupVersion != unitSets.GroupVersion().String() {
			continue
		}
		for i := range l.APIResources {
			r := &l.APIResources[i]
			if r.Name == unitSets.Resource {
				found = r
			} else if sub, ok := strings.CutPrefix(r.Name, unitSets.Resource+"/"); ok {
				subresources = append(subresources, sub)
			}
		}
	}
	if found == nil {
		return metav1.APIResource{}, nil, fmt.Errorf("discovery has no %s in %s", unitSets.Resource, unitSets.GroupVersion())
	}
	slices.Sort(subresources)
	return *found, subresources, nil
}

func expectUnitSets(r metav1.APIResource, subresources []string) error {
	verbs := slices.Sorted(slices.Values(r.Verbs))
	switch {
	case r.Kind != "UnitSet":
		return fmt.Errorf("unitsets has kind %q, want UnitSet", r.Kind)
	case !r.Namespaced:
		return fmt.Errorf("unitsets is not namespaced")
	case !slices.Equal(verbs, unitSetVerbs):
		return fmt.Errorf("unitsets has verbs %v, want %v", verbs, unitSetVerbs)
	case shortName != "" && !slices.Contains(r.ShortNames, shortName):
		return fmt.Errorf("unitsets has short names %v, want %s among them", r.ShortNames, shortName)
	case r.SingularName != "unitset":
		return fmt.Errorf("unitsets has singular name %q, want unitset", r.SingularName)
	case !slices.Contains(subresources, "status") || !slices.Contains(subresources, "scale"):
		return fmt.Errorf("unitsets has subresources %v, want status and scale among them", subresources)
	}
	return nil
}

// checkAggregatedDiscovery: client-go's default discovery asks /api and /apis for the
// aggregated document (apidiscovery.k8s.io/v2) and must find unitsets in it, with no request
// per group version.
func checkAggregatedDiscovery(_ context.Context, e *env) error {
	config, w := e.observed()
	dc, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return err
	}
	_, lists, err := dc.ServerGroupsAndResources()
	if err != nil {
		return fmt.Errorf("ServerGroupsAndResources: %w", err)
	}
	r, subs, err := describeUnitSets(lists)
	if err != nil {
		return err
	}
	if err := expectUnitSets(r, subs); err != nil {
		return err
	}
	apis := w.requestsTo("/apis")
	if len(apis) == 0 {
		return fmt.Errorf("no GET /apis was made")
	}
	if ct := apis[0].ContentType; !strings.Contains(ct, "g=apidiscovery.k8s.io") || !strings.Contains(ct, "v=v2") {
		return fmt.Errorf("GET /apis answered with Content-Type %q, not the aggregated discovery document", ct)
	}
	if n := len(w.requestsTo(gvPath())); n != 0 {
		return fmt.Errorf("aggregated discovery still fetched %s (%d times)", gvPath(), n)
	}
	return nil
}

// checkLegacyDiscovery: the per-group-version documents (APIGroupList, APIResourceList) say
// the same about unitsets as the aggregated one.
func checkLegacyDiscovery(_ context.Context, e *env) error {
	config, w := e.observed()
	dc, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return err
	}
	dc.UseLegacyDiscovery = true
	_, lists, err := dc.ServerGroupsAndResources()
	if err != nil {
		return fmt.Errorf("ServerGroupsAndResources: %w", err)
	}
	legacy, legacySubs, err := describeUnitSets(lists)
	if err != nil {
		return err
	}
	if err := expectUnitSets(legacy, legacySubs); err != nil {
		return err
	}
	gv := w.requestsTo(gvPath())
	if len(gv) == 0 || gv[0].Status != 200 {
		return fmt.Errorf("legacy discovery did not GET %s: %+v", gvPath(), gv)
	}

	aggregated, err := discovery.NewDiscoveryClientForConfig(e.config)
	if err != nil {
		return err
	}
	_, aggLists, err := aggregated.ServerGroupsAndResources()
	if err != nil {
		return err
	}
	agg, aggSubs, err := describeUnitSets(aggLists)
	if err != nil {
		return err
	}
	// client-go fills group and version in from the aggregated document, the legacy one leaves
	// them empty for the resources of its own group version; neither has a storageVersionHash
	// in the aggregated form. Everything else must agree.
	legacy.StorageVersionHash, agg.StorageVersionHash = "", ""
	legacy.Group, legacy.Version, agg.Group, agg.Version = "", "", "", ""
	a, _ := json.Marshal(agg)
	l, _ := json.Marshal(legacy)
	if string(a) != string(l) || !slices.Equal(aggSubs, legacySubs) {
		return fmt.Errorf("aggregated and legacy discovery differ:\n aggregated %s %v\n legacy     %s %v", a, aggSubs, l, legacySubs)
	}
	return nil
}

// checkPreferredResources: what kubectl api-resources and the namespace controller use.
func checkPreferredResources(_ context.Context, e *env) error {
	dc, err := discovery.NewDiscoveryClientForConfig(e.config)
	if err != nil {
		return err
	}
	preferred, err := dc.ServerPreferredResources()
	if err != nil {
		return fmt.Errorf("ServerPreferredResources: %w", err)
	}
	if _, _, err := describeUnitSets(preferred); err != nil {
		return fmt.Errorf("ServerPreferredResources: %w", err)
	}
	namespaced, err := dc.ServerPreferredNamespacedResources()
	if err != nil {
		return fmt.Errorf("ServerPreferredNamespacedResources: %w", err)
	}
	deletable := discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"list", "deletecollection"}}, namespaced)
	if _, _, err := describeUnitSets(deletable); err != nil {
		return fmt.Errorf("namespaced resources that can be listed and deleted by collection (the namespace controller's filter): %w", err)
	}
	return nil
}

// checkRESTMapper: kind to resource and short name to resource, as kubectl and controller-runtime map them.
func checkRESTMapper(_ context.Context, e *env) error {
	dc, err := discovery.NewDiscoveryClientForConfig(e.config)
	if err != nil {
		return err
	}
	cached := memory.NewMemCacheClient(dc)
	mapper := restmapper.NewShortcutExpander(restmapper.NewDeferredDiscoveryRESTMapper(cached), cached, nil)
	mapping, err := mapper.RESTMapping(schema.GroupKind{Group: unitSets.Group, Kind: "UnitSet"})
	if err != nil {
		return fmt.Errorf("RESTMapping(UnitSet.%s): %w", unitSets.Group, err)
	}
	if mapping.Resource != unitSets || mapping.Scope.Name() != meta.RESTScopeNameNamespace {
		return fmt.Errorf("UnitSet.%s maps to %v (scope %s)", unitSets.Group, mapping.Resource, mapping.Scope.Name())
	}
	// Group-qualified: a bare "unitset" is ambiguous where a CRD of the same kind is served too.
	names := []string{"unitset." + unitSets.Group, "unitsets." + unitSets.Group}
	if shortName != "" {
		names = append(names, shortName)
	}
	for _, name := range names {
		gr := schema.ParseGroupResource(name)
		got, err := mapper.ResourceFor(gr.WithVersion(""))
		if err != nil {
			return fmt.Errorf("ResourceFor(%q): %w", name, err)
		}
		if got != unitSets {
			return fmt.Errorf("ResourceFor(%q) = %v, want %v", name, got, unitSets)
		}
	}
	return nil
}

// checkOpenAPIV3: the OpenAPI v3 document of the group version, found through /openapi/v3, has
// the UnitSet schema with its group-version-kind.
func checkOpenAPIV3(_ context.Context, e *env) error {
	dc, err := discovery.NewDiscoveryClientForConfig(e.config)
	if err != nil {
		return err
	}
	paths, err := dc.OpenAPIV3().Paths()
	if err != nil {
		return fmt.Errorf("GET /openapi/v3: %w", err)
	}
	path := strings.TrimPrefix(gvPath(), "/")
	gv, ok := paths[path]
	if !ok {
		return fmt.Errorf("/openapi/v3 lists no %s", path)
	}
	raw, err := gv.Schema("application/json")
	if err != nil {
		return fmt.Errorf("GET the %s document: %w", path, err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				GVK []struct{ Group, Version, Kind string } `json:"x-kubernetes-group-version-kind"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("the %s document: %w", path, err)
	}
	for _, s := range doc.Components.Schemas {
		for _, k := range s.GVK {
			if k.Group == unitSets.Group && k.Version == unitSets.Version && k.Kind == "UnitSet" {
				return nil
			}
		}
	}
	return fmt.Errorf("no schema of the %s document has x-kubernetes-group-version-kind UnitSet", path)
}

func gvPath() string { return "/apis/" + unitSets.GroupVersion().String() }
