package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// wire records what client-go puts on the wire (requests to the API, the Content-Type of each
// answer) and decodes the events of every watch stream as client-go reads them, so checks can
// assert what was requested and what the server sent rather than only what client-go made of it.
type wire struct {
	mu        sync.Mutex
	requests  []request
	bookmarks []bookmark
	events    map[string]int // watch event type -> count, over every stream
}

type request struct {
	Method      string
	Path        string
	Query       url.Values
	Status      int
	ContentType string
}

type bookmark struct {
	ResourceVersion  string
	InitialEventsEnd bool
	Stream           int // index of its watch request among the recorded requests
}

func newWire() *wire { return &wire{events: map[string]int{}} }

func (w *wire) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		r := request{Method: req.Method, Path: req.URL.Path, Query: req.URL.Query()}
		if resp != nil {
			r.Status = resp.StatusCode
			r.ContentType = resp.Header.Get("Content-Type")
		}
		w.mu.Lock()
		w.requests = append(w.requests, r)
		index := len(w.requests) - 1
		w.mu.Unlock()
		if err == nil && isWatch(r) && resp.StatusCode == http.StatusOK {
			resp.Body = w.tap(resp.Body, index)
		}
		return resp, err
	})
}

func isWatch(r request) bool {
	v := r.Query.Get("watch")
	return v == "true" || v == "1"
}

// tap copies a watch stream into a decoder of its events (JSON, as the dynamic client asks for).
func (w *wire) tap(body io.ReadCloser, index int) io.ReadCloser {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		dec := json.NewDecoder(pr)
		for {
			var ev struct {
				Type   string `json:"type"`
				Object struct {
					Metadata struct {
						ResourceVersion string            `json:"resourceVersion"`
						Annotations     map[string]string `json:"annotations"`
					} `json:"metadata"`
				} `json:"object"`
			}
			if err := dec.Decode(&ev); err != nil {
				_, _ = io.Copy(io.Discard, pr) // never block the reader
				return
			}
			w.mu.Lock()
			w.events[ev.Type]++
			if ev.Type == "BOOKMARK" {
				w.bookmarks = append(w.bookmarks, bookmark{
					ResourceVersion:  ev.Object.Metadata.ResourceVersion,
					InitialEventsEnd: ev.Object.Metadata.Annotations["k8s.io/initial-events-end"] == "true",
					Stream:           index,
				})
			}
			w.mu.Unlock()
		}
	}()
	return &tapped{ReadCloser: body, pw: pw, done: done}
}

// tapped is a watch stream's body that also feeds the decoder. When the stream ends, it waits
// for the decoder, so every event of a stream is counted before client-go sees its end (and
// before the reflector can open the next watch).
type tapped struct {
	io.ReadCloser
	pw   *io.PipeWriter
	done chan struct{}
}

func (t *tapped) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if n > 0 {
		_, _ = t.pw.Write(p[:n])
	}
	if err != nil {
		t.pw.CloseWithError(err)
		<-t.done
	}
	return n, err
}

func (t *tapped) Close() error {
	t.pw.Close()
	<-t.done
	return t.ReadCloser.Close()
}

// requestsTo returns the recorded requests whose path ends with suffix (GETs only when get).
func (w *wire) requestsTo(suffix string) []request {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []request
	for _, r := range w.requests {
		if strings.HasSuffix(r.Path, suffix) {
			out = append(out, r)
		}
	}
	return out
}

// listsAndWatches splits the GETs of a collection into lists and watches.
func (w *wire) listsAndWatches(collection string) (lists, watches []request) {
	for _, r := range w.requestsTo(collection) {
		if r.Method != http.MethodGet {
			continue
		}
		if isWatch(r) {
			watches = append(watches, r)
		} else {
			lists = append(lists, r)
		}
	}
	return lists, watches
}

// servedWatches counts the watches of a collection the server answered with a stream.
func (w *wire) servedWatches(collection string) int {
	_, watches := w.listsAndWatches(collection)
	n := 0
	for _, r := range watches {
		if r.Status == http.StatusOK {
			n++
		}
	}
	return n
}

func (w *wire) snapshotBookmarks() []bookmark {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]bookmark(nil), w.bookmarks...)
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
