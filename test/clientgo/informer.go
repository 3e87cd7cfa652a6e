package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	clientfeatures "k8s.io/client-go/features"
	"k8s.io/client-go/tools/cache"
)

// watchTimeoutSeconds replaces the reflector's 5-10 minute watch timeout, so the server ends
// each watch after a few seconds and the reflector must resume it. kube-apiserver sends a
// bookmark 2 s before a watch's deadline (cacher.nextBookmarkTime), so each watch of 4 s ends
// with the resourceVersion the next one resumes from.
const watchTimeoutSeconds = 4

// watchListGate lets one informer use watch-list (client-go's WatchListClient feature gate,
// off by default in v0.34) while the others keep LIST then WATCH. The reflector reads the gate
// when it is created.
type watchListGate struct {
	base    clientfeatures.Gates
	enabled atomic.Bool
}

func (g *watchListGate) Enabled(f clientfeatures.Feature) bool {
	if f == clientfeatures.WatchListClient {
		return g.enabled.Load()
	}
	return g.base.Enabled(f)
}

var gates = &watchListGate{base: clientfeatures.FeatureGates()}

func init() { clientfeatures.ReplaceFeatureGates(gates) }

// recorder keeps the names an informer's handlers saw, per event kind.
type recorder struct {
	mu                  sync.Mutex
	adds, updates, dels map[string]int
	changed             chan struct{}
}

func newRecorder() *recorder {
	return &recorder{adds: map[string]int{}, updates: map[string]int{}, dels: map[string]int{}, changed: make(chan struct{}, 1)}
}

func (r *recorder) note(m map[string]int, obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	r.mu.Lock()
	m[u.GetName()]++
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) count(m map[string]int, name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return m[name]
}

// until waits for cond, re-evaluating it on every event and every 100 ms.
func until(ctx context.Context, what string, changed <-chan struct{}, cond func() bool) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s", what)
		case <-changed:
		case <-tick.C:
		}
	}
	return nil
}

func checkInformerListWatch(ctx context.Context, e *env) error { return runInformer(ctx, e, false) }
func checkInformerWatchList(ctx context.Context, e *env) error { return runInformer(ctx, e, true) }

// runInformer runs a shared informer (dynamicinformer) over this run's UnitSets of one label and
// asserts, from the wire: how it started (LIST then WATCH, or one watch-list WATCH with
// sendInitialEvents ended by the initial-events-end bookmark), that the server's closing of
// each watch was followed by a WATCH from the last resourceVersion and never by a relist, that
// bookmarks arrived, and that add, update and delete events reached the handlers across resumes.
func runInformer(ctx context.Context, e *env, watchList bool) error {
	mode := "lw"
	if watchList {
		mode = "wl"
	}
	selector := runLabel + "=" + e.run + ",informer=" + mode
	labels := map[string]string{"informer": mode}
	config, w := e.observed()
	client, err := dynamic.NewForConfig(config)
	if err != nil {
		return err
	}
	res := client.Resource(unitSets).Namespace(e.namespace)
	for _, n := range []string{"1", "2"} {
		if _, err := res.Create(ctx, e.unitSet(e.name(mode+n), 1, labels), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create: %w", err)
		}
	}

	factory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(client, 0, e.namespace, func(o *metav1.ListOptions) {
		o.LabelSelector = selector
		if o.TimeoutSeconds != nil { // the reflector sets a timeout on its watches only
			t := int64(watchTimeoutSeconds)
			o.TimeoutSeconds = &t
		}
	})
	informer := factory.ForResource(unitSets).Informer()
	rec := newRecorder()
	handler, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { rec.note(rec.adds, obj) },
		UpdateFunc: func(_, obj any) { rec.note(rec.updates, obj) },
		DeleteFunc: func(obj any) { rec.note(rec.dels, obj) },
	})
	if err != nil {
		return err
	}
	gates.enabled.Store(watchList)
	stop := make(chan struct{})
	defer func() {
		close(stop)
		factory.Shutdown()
	}()
	factory.Start(stop)
	// The handler's HasSynced: its initial adds were delivered, not only the store filled.
	synced := cache.WaitForCacheSync(ctx.Done(), informer.HasSynced, handler.HasSynced)
	gates.enabled.Store(false) // the reflector, created by Start's goroutine, has read it
	if !synced {
		return fmt.Errorf("the informer did not sync")
	}
	for _, n := range []string{"1", "2"} {
		if rec.count(rec.adds, e.name(mode+n)) != 1 {
			return fmt.Errorf("the initial state did not reach the handler as one add of %s", e.name(mode+n))
		}
	}

	// Events on the first watch.
	cur, err := res.Get(ctx, e.name(mode+"1"), metav1.GetOptions{})
	if err != nil {
		return err
	}
	_ = unstructured.SetNestedField(cur.Object, int64(2), "spec", "units")
	if _, err := res.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if err := until(ctx, "the update event", rec.changed, func() bool { return rec.count(rec.updates, e.name(mode+"1")) >= 1 }); err != nil {
		return err
	}

	// The server ends the watch after watchTimeoutSeconds; the reflector resumes it.
	if err := until(ctx, "the reflector to resume its watch after the server closed it", nil, func() bool {
		return w.servedWatches("/"+unitSets.Resource) >= 2
	}); err != nil {
		return err
	}
	if err := res.Delete(ctx, e.name(mode+"2"), metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if _, err := res.Create(ctx, e.unitSet(e.name(mode+"3"), 1, labels), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if err := until(ctx, "the delete and add events on the resumed watch", rec.changed, func() bool {
		return rec.count(rec.dels, e.name(mode+"2")) == 1 && rec.count(rec.adds, e.name(mode+"3")) == 1
	}); err != nil {
		return err
	}
	// One more server-side close and resume, so a resume follows a watch that carried events.
	if err := until(ctx, "a second resume", nil, func() bool {
		return w.servedWatches("/"+unitSets.Resource) >= 3
	}); err != nil {
		return err
	}

	lists, watches := w.listsAndWatches("/" + unitSets.Resource)
	bookmarks := w.snapshotBookmarks()
	if watchList {
		if err := expectWatchListStart(lists, watches, bookmarks); err != nil {
			return err
		}
		if watches[0].Status != http.StatusOK {
			watches = watches[1:] // the refused watch-list request: the watches follow the LIST
		}
	} else if len(lists) != 1 {
		return fmt.Errorf("want exactly one LIST, got %d (a relist instead of a resume?)", len(lists))
	}
	for i, wr := range watches {
		if wr.Query.Get("allowWatchBookmarks") != "true" {
			return fmt.Errorf("watch %d did not ask for bookmarks: %v", i, wr.Query)
		}
		if i == 0 {
			continue
		}
		rv := wr.Query.Get("resourceVersion")
		if _, err := strconv.ParseUint(rv, 10, 64); err != nil || rv == "0" {
			return fmt.Errorf("watch %d resumed from resourceVersion %q, not the last one seen: %v", i, rv, wr.Query)
		}
		if wr.Query.Has("sendInitialEvents") {
			return fmt.Errorf("watch %d asked for initial events again: %v", i, wr.Query)
		}
	}
	// Every watch closed by its timeout was preceded by a bookmark (kube: 2 s before the deadline).
	closed := len(watches) - 1
	periodic := 0
	for _, b := range bookmarks {
		if !b.InitialEventsEnd {
			periodic++
		}
	}
	if periodic < closed {
		return fmt.Errorf("%d watches ended by their %d s timeout but only %d bookmarks arrived (kube-apiserver sends one 2 s before a watch's deadline)", closed, watchTimeoutSeconds, periodic)
	}
	return nil
}

// expectWatchListStart: client-go's watch-list request (one WATCH with sendInitialEvents=true,
// resourceVersionMatch=NotOlderThan, bookmarks allowed) is either served, as kube-apiserver does
// with its WatchList feature gate on, ending the initial state with a bookmark annotated
// k8s.io/initial-events-end and never followed by a LIST; or refused with 422 Invalid, as
// kube-apiserver 1.34 does with its default gates (WatchList is off again since 1.33), and
// client-go falls back to one LIST right away. A server that ignores sendInitialEvents leaves
// the informer waiting for the bookmark until the watch ends.
func expectWatchListStart(lists, watches []request, bookmarks []bookmark) error {
	if len(watches) == 0 {
		return fmt.Errorf("no watch-list request was made")
	}
	first := watches[0]
	if first.Query.Get("sendInitialEvents") != "true" || first.Query.Get("resourceVersionMatch") != "NotOlderThan" || first.Query.Get("allowWatchBookmarks") != "true" {
		return fmt.Errorf("the first request was not a watch-list request: %v", first.Query)
	}
	switch first.Status {
	case http.StatusOK:
		if len(lists) != 0 {
			return fmt.Errorf("the server accepted the watch-list request but client-go still listed (%d LISTs): its bookmarks were %+v", len(lists), bookmarks)
		}
		if len(bookmarks) == 0 || !bookmarks[0].InitialEventsEnd {
			return fmt.Errorf("the watch-list stream's first bookmark is not annotated k8s.io/initial-events-end: %+v", bookmarks)
		}
	case http.StatusUnprocessableEntity:
		if len(lists) != 1 {
			return fmt.Errorf("after the refused watch-list request client-go made %d LISTs, want 1", len(lists))
		}
	default:
		return fmt.Errorf("the watch-list request was answered with %d", first.Status)
	}
	return nil
}
