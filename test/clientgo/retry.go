package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// checkRetryOnConflict: two writers read the same resourceVersion, then both update; the loser
// gets a Conflict, retry.RetryOnConflict reads again and retries, and both changes end up in the object.
func checkRetryOnConflict(ctx context.Context, e *env) error {
	res, err := e.unitSets()
	if err != nil {
		return err
	}
	name := e.name("retry")
	if _, err := res.Create(ctx, e.unitSet(name, 1, nil), metav1.CreateOptions{}); err != nil {
		return err
	}
	var attempts, conflicts atomic.Int32
	var bothRead sync.WaitGroup
	bothRead.Add(2)
	write := func(key string) error {
		first := true
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			attempts.Add(1)
			cur, err := res.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if first { // both writers hold the same resourceVersion before either writes
				first = false
				bothRead.Done()
				bothRead.Wait()
			}
			a := cur.GetAnnotations()
			if a == nil {
				a = map[string]string{}
			}
			a["writer-"+key] = "done"
			cur.SetAnnotations(a)
			_, err = res.Update(ctx, cur, metav1.UpdateOptions{})
			if apierrors.IsConflict(err) {
				conflicts.Add(1)
			}
			return err
		})
	}
	errs := make(chan error, 2)
	for _, k := range []string{"a", "b"} {
		go func() { errs <- write(k) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			return fmt.Errorf("a writer failed: %w", err)
		}
	}
	got, err := res.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if got.GetAnnotations()["writer-a"] != "done" || got.GetAnnotations()["writer-b"] != "done" {
		return fmt.Errorf("both changes should be in the object: annotations %v", got.GetAnnotations())
	}
	if conflicts.Load() < 1 || attempts.Load() < 3 {
		return fmt.Errorf("the writers did not race: %d attempts, %d conflicts", attempts.Load(), conflicts.Load())
	}
	return nil
}
