package api_test

import (
	"io"
	"log/slog"
	"sort"
	"testing"

	"chunkup/internal/api"
	"chunkup/internal/upload"
)

// TestTemplateRoutesMatchHandlers: every route in template.yaml has a
// handler in the function it names, and every handler has such a route.
func TestTemplateRoutesMatchHandlers(t *testing.T) {
	tmpl := loadTemplate(t)
	svc := api.New(upload.New(nil, nil, upload.Options{}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	var inTemplate, inCode []string
	for _, r := range tmpl.Routes() {
		inTemplate = append(inTemplate, r.Function+" "+r.Method+" "+r.Path)
	}
	for _, r := range svc.Routes() {
		inCode = append(inCode, r.Function+" "+r.Method+" "+r.Path)
	}
	sort.Strings(inTemplate)
	sort.Strings(inCode)
	if len(inTemplate) != len(inCode) {
		t.Fatalf("template routes %v\ncode routes %v", inTemplate, inCode)
	}
	for i := range inCode {
		if inCode[i] != inTemplate[i] {
			t.Fatalf("template routes %v\ncode routes %v", inTemplate, inCode)
		}
	}
	for fn := range svc.Handlers() {
		if _, ok := tmpl.Function(fn); !ok {
			t.Errorf("handler for %s, which template.yaml lacks", fn)
		}
	}
	if _, ok := tmpl.Function(api.CleanupFunction); !ok {
		t.Error("template.yaml lacks the cleanup function")
	}
}

// TestTemplateCORSMatchesCode: the deployed HTTP API allows and exposes
// the same headers as the local gateway.
func TestTemplateCORSMatchesCode(t *testing.T) {
	tmpl := loadTemplate(t)
	res, ok := tmpl.Resource("UploadsApi")
	if !ok {
		t.Fatal("template.yaml has no UploadsApi")
	}
	cfg, _ := res.Properties["CorsConfiguration"].(map[string]any)
	want := api.CORS()
	for name, list := range map[string][]string{"AllowHeaders": want.AllowHeaders, "ExposeHeaders": want.ExposeHeaders, "AllowMethods": want.AllowMethods} {
		got, _ := cfg[name].([]any)
		if len(got) != len(list) {
			t.Errorf("%s: template %v, code %v", name, got, list)
			continue
		}
		for i := range list {
			if got[i] != list[i] {
				t.Errorf("%s: template %v, code %v", name, got, list)
				break
			}
		}
	}
}
