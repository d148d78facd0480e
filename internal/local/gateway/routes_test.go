package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"testing"
)

func TestRouteSpecificity(t *testing.T) {
	// The example routes of AWS's "Routing API requests" section, plus ANY
	// against an explicit method on one path.
	table, err := compileRoutes([]Route{
		{Function: "F", Method: "GET", Path: "/pets/dog/1"},
		{Function: "F", Method: "GET", Path: "/pets/dog/{id}"},
		{Function: "F", Method: "GET", Path: "/pets/{proxy+}"},
		{Function: "F", Method: "ANY", Path: "/{proxy+}"},
		{Function: "F", Method: "ANY", Path: "/pets/{id}/toys"},
		{Function: "F", Method: "POST", Path: "/pets/{id}/toys"},
		{Function: "F", Method: "GET", Path: "/"},
		{Function: "F", Path: "$default"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ method, path, key string }{
		{"GET", "/pets/dog/1", "GET /pets/dog/1"},
		{"GET", "/pets/dog/2", "GET /pets/dog/{id}"},
		{"GET", "/pets/cat/1", "GET /pets/{proxy+}"},
		{"GET", "/test/5", "ANY /{proxy+}"},
		{"POST", "/pets/dog/1", "ANY /{proxy+}"},
		{"POST", "/pets/7/toys", "POST /pets/{id}/toys"},
		{"PUT", "/pets/7/toys", "ANY /pets/{id}/toys"},
		{"GET", "/", "GET /"},
		{"POST", "/", "$default"},
	}
	for _, c := range cases {
		m, ok := table.find(c.method, &url.URL{Path: c.path})
		if !ok || m.route.key != c.key {
			t.Errorf("%s %s: got %v %v, want %q", c.method, c.path, ok, m.route, c.key)
		}
	}
}

func TestBadRoutesAreRefused(t *testing.T) {
	h := map[string]http.Handler{"F": http.NotFoundHandler()}
	for _, routes := range [][]Route{
		{{Function: "F", Method: "GET", Path: "pets"}},
		{{Function: "F", Method: "GET", Path: "/files/{proxy+}/x"}},
		{{Function: "F", Method: "GET", Path: "/pets/{id}.json"}},
		{{Function: "F", Method: "GET", Path: "/pets/{}"}},
		{{Function: "F", Path: "/pets"}},
		{{Method: "GET", Path: "/pets"}},
		{{Function: "F", Method: "GET", Path: "/pets/{a}"}, {Function: "F", Method: "get", Path: "/pets/{b}"}},
	} {
		if _, err := New(routes, h, Options{}); err == nil {
			t.Errorf("New(%v) accepted bad routes", routes)
		}
	}
}

func TestEveryRoutedFunctionNeedsAHandler(t *testing.T) {
	routes := []Route{{Function: "ReceiveFunction", Method: "POST", Path: "/v1/uploads"}}
	_, err := New(routes, map[string]http.Handler{"CheckFunction": http.NotFoundHandler()}, Options{})
	if !errors.Is(err, errNoHandler) {
		t.Errorf("err = %v, want errNoHandler", err)
	}
	_, err = New(routes, map[string]http.Handler{"ReceiveFunction": nil}, Options{})
	if err == nil {
		t.Error("a nil handler was accepted")
	}
	// A function with no route (the scheduled cleanup) is fine.
	_, err = New(routes, map[string]http.Handler{
		"ReceiveFunction": http.NotFoundHandler(), "CleanupFunction": http.NotFoundHandler(),
	}, Options{})
	if err != nil {
		t.Errorf("New: %v", err)
	}
}

func TestBindDecodesAndKeepsEncodedSlashInSegment(t *testing.T) {
	rt, err := compileRoute(Route{Function: "F", Method: "GET", Path: "/u/{id}/{rest+}"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("/u/a%2Fb/c%20d/e")
	got, ok := rt.bind(splitPath(u))
	if want := map[string]string{"id": "a/b", "rest": "c d/e"}; !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("bind = %v %v, want %v", got, ok, want)
	}
}
