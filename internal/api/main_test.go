package api_test

import (
	"testing"

	"chunkup/internal/local/samtemplate"
	"chunkup/internal/local/stack"
	"chunkup/internal/local/stack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

func stackFor(t *testing.T) *stack.Stack { return stacktest.ForTest(t) }

func loadTemplate(t *testing.T) *samtemplate.Template {
	t.Helper()
	root, err := samtemplate.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := samtemplate.Load(root + "/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}
