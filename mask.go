package main

import (
	"regexp"

	"github.com/xp-auth0/auth0-eventstream/internal/redact"
)

// Text the function copies from a composed resource (its Synced and Ready
// messages, delivery failures and actions) onto the composite, its claim
// and their events is read by whoever may read those, who may not read the
// Secrets. The native provider masks its own text; provider-terraform masks
// nothing, and Terraform quotes what it was given. So the function masks
// whatever it copies, for both backends, as the native provider does: every
// secret value it knows (the composite's inline values and the referenced
// Secret's), URL user-info and the secret-looking patterns of
// internal/redact, after dropping provider-terraform's copy of Terraform's
// whole stderr.

// terraformOutput is provider-terraform v1.0.1's attachment of Terraform's
// whole stderr to an error, gzipped and base64-encoded
// (internal/terraform/terraform.go, Classify: `Terraform encountered an
// error. Summary: %s. To see the full error run: echo "%s" | base64 -d |
// gunzip`): anyone could decode it, and it holds whatever Terraform printed.
var terraformOutput = regexp.MustCompile(`To see the full error run: echo "[A-Za-z0-9+/=]*" \| base64 -d \| gunzip`)

// terraformOutputOmitted replaces it.
const terraformOutputOmitted = "The full Terraform output is omitted here (it may quote secret values): see provider-terraform's log."

// masker masks text copied onto the composite. The zero value masks the
// patterns only.
type masker struct {
	r *redact.Redactor
}

// newMasker masks values (and each trimmed of surrounding whitespace) from
// now on.
func newMasker(values ...string) masker {
	return masker{r: redact.New(withTrimmed(values)...)}
}

// String returns s masked.
func (m masker) String(s string) string {
	if s == "" {
		return s
	}
	s = terraformOutput.ReplaceAllLiteralString(s, terraformOutputOmitted)
	return m.r.String(s)
}
