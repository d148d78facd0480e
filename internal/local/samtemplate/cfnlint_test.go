package samtemplate

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// authUnderIf is the HttpApi Auth template.yaml had before issue 15: the
// JWT authorizer under Fn::If, which only AWS::LanguageExtensions resolves
// and cfn-lint and the SAM translator refuse.
const authUnderIf = `      Auth:
        Fn::If:
          - AuthEnabled
          - DefaultAuthorizer: JwtAuthorizer
            Authorizers:
              JwtAuthorizer:
                IdentitySource: $request.header.Authorization
                JwtConfiguration:
                  issuer: !Ref AuthIssuer
                  audience: !Ref AuthAudience
          - !Ref AWS::NoValue
`

// TestCfnLint: cfn-lint, as `sam validate --lint` and `make lint` run it,
// reports nothing at all for template.yaml. The same run lints a copy with
// the API's Auth as it was before issue 15, and must report that copy's
// E0001: the proof that cfn-lint ran and that this test can fail.
func TestCfnLint(t *testing.T) {
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint test skipped: cfn-lint is not on PATH (pip install cfn-lint)")
	}
	_, root := loadProject(t)
	project := filepath.Join(root, "template.yaml")
	src, err := os.ReadFile(project)
	if err != nil {
		t.Fatal(err)
	}
	const at = "      DefinitionBody:\n"
	if !strings.Contains(string(src), at) {
		t.Fatalf("template.yaml has no %q to put the old Auth before; update the test", at)
	}
	broken := filepath.Join(t.TempDir(), "auth-under-if.yaml")
	if err := os.WriteFile(broken, []byte(strings.Replace(string(src), at, authUnderIf+at, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	// Parseable lines: file:line:column:endline:endcolumn:rule:message.
	out, _ := exec.Command(lint, "--format", "parseable", "--", project, broken).CombinedOutput()
	var brokenRules []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		switch {
		case line == "":
		case strings.HasPrefix(line, broken+":"):
			if f := strings.SplitN(line, ":", 7); len(f) == 7 {
				brokenRules = append(brokenRules, f[5])
			}
		default:
			t.Errorf("cfn-lint template.yaml: %s", line)
		}
	}
	if !strings.Contains(strings.Join(brokenRules, " "), "E0001") {
		t.Errorf("cfn-lint did not report E0001 for the Auth under Fn::If (rules %q); its output:\n%s", brokenRules, out)
	}
}
