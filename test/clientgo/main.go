// upm-clientgo: a second reference client for the upm.io API. It drives UnitSets
// (upm.io/v1alpha1) with client-go the way controllers and tools written in Go do: typed
// discovery (aggregated and legacy) and a REST mapper, the dynamic and metadata clients, a shared
// informer with bookmarks, watch resume and watch-list, server-side apply with field managers,
// and retry.RetryOnConflict. It prints `ok <check>` per check and exits 0, or prints
// `FAIL <check>: <why>` and exits 1.
//
// Usage: upm-clientgo --kubeconfig FILE [--namespace NS] [--group G --short-name S] [--check NAME]
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

var unitSets = schema.GroupVersionResource{Group: "upm.io", Version: "v1alpha1", Resource: "unitsets"}

// shortName discovery must list for unitsets ("" for none).
var shortName = "us"

// env is what every check gets: the configuration, the namespace, and a run id that names and
// labels this run's objects (so runs never collide and the run can clean up after itself).
type env struct {
	config    *rest.Config
	namespace string
	run       string
}

// observed returns a copy of the configuration whose traffic the returned wire records.
func (e *env) observed() (*rest.Config, *wire) {
	w := newWire()
	c := rest.CopyConfig(e.config)
	c.Wrap(w.wrap)
	return c, w
}

// name of an object of this run.
func (e *env) name(parts string) string { return "cg-" + e.run + "-" + parts }

// runLabel selects every object of this run.
const runLabel = "clientgo.upm.io/run"

type check struct {
	name string
	run  func(ctx context.Context, e *env) error
}

var checks = []check{
	{"discovery-aggregated", checkAggregatedDiscovery},
	{"discovery-legacy", checkLegacyDiscovery},
	{"discovery-preferred-resources", checkPreferredResources},
	{"rest-mapper", checkRESTMapper},
	{"openapi-v3", checkOpenAPIV3},
	{"dynamic-create-get", checkCreateGet},
	{"dynamic-list-label-selector", checkListSelector},
	{"dynamic-update", checkUpdate},
	{"dynamic-merge-patch", checkMergePatch},
	{"dynamic-json-patch", checkJSONPatch},
	{"dynamic-delete", checkDelete},
	{"metadata-client", checkMetadataClient},
	{"informer-list-watch-resume", checkInformerListWatch},
	{"informer-watch-list", checkInformerWatchList},
	{"server-side-apply", checkServerSideApply},
	{"server-side-apply-conflict-force", checkApplyConflict},
	{"retry-on-conflict", checkRetryOnConflict},
}

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the API server to test")
	namespace := flag.String("namespace", "default", "namespace for the UnitSets the checks create")
	only := flag.String("check", "", "run only the check of this name")
	timeout := flag.Duration("timeout", 30*time.Second, "time limit of each check")
	// The same checks against a CustomResourceDefinition with UnitSet's schema in another group,
	// served by kube-apiserver itself, show they describe Kubernetes' behaviour and not only ours.
	flag.StringVar(&unitSets.Group, "group", unitSets.Group, "API group of the UnitSet kind")
	flag.StringVar(&shortName, "short-name", shortName, `short name discovery must list for unitsets ("" for none)`)
	flag.Parse()
	if *kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "upm-clientgo: --kubeconfig is required")
		os.Exit(2)
	}
	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintf(os.Stderr, "upm-clientgo: %v\n", err)
		os.Exit(2)
	}
	config.QPS, config.Burst = 100, 200
	config.WarningHandler = rest.NoWarnings{} // "UnitTemplate ... does not exist yet" on every UnitSet
	config.UserAgent = "upm-clientgo/" + rest.DefaultKubernetesUserAgent()
	e := &env{config: config, namespace: *namespace, run: randomID()}
	defer e.cleanup()

	ran := 0
	for _, c := range checks {
		if *only != "" && c.name != *only {
			continue
		}
		ran++
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		err := c.run(ctx, e)
		cancel()
		if err != nil {
			fmt.Printf("FAIL %s: %v\n", c.name, err)
			e.cleanup()
			os.Exit(1)
		}
		fmt.Printf("ok %s\n", c.name)
	}
	if ran == 0 {
		fmt.Fprintf(os.Stderr, "upm-clientgo: no check named %q\n", *only)
		os.Exit(2)
	}
}

// cleanup deletes every UnitSet this run created (best effort: a failed check says what failed).
func (e *env) cleanup() {
	client, err := dynamic.NewForConfig(e.config)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = client.Resource(unitSets).Namespace(e.namespace).DeleteCollection(ctx, metav1.DeleteOptions{},
		metav1.ListOptions{LabelSelector: runLabel + "=" + e.run})
}

func randomID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
