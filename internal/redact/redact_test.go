package redact

import (
	"errors"
	"strings"
	"testing"
)

type statusError struct{ msg string }

func (e *statusError) Error() string { return e.msg }

func TestRedactor(t *testing.T) {
	r := New("s3cr3t-token-value", "pw", "")
	cases := map[string]struct{ in, want string }{
		"known value": {
			in:   `400 Bad Request: Payload validation error: 'String is too long: s3cr3t-token-value' on property destination.configuration.webhook_authorization.token.`,
			want: `400 Bad Request: Payload validation error: 'String is too long: [redacted]' on property destination.configuration.webhook_authorization.token.`,
		},
		"url user-info": {
			in:   `Object didn't pass validation for format absolute-https-uri: https://alice:hunter22@hooks.example.com/x`,
			want: `Object didn't pass validation for format absolute-https-uri: https://[redacted]@hooks.example.com/x`,
		},
		"user-info without password": {
			in:   `endpoint "https://apikey@hooks.example.com" refused`,
			want: `endpoint "https://[redacted]@hooks.example.com" refused`,
		},
		"short value alone": {in: `password pw refused; pwd and upwards stay`, want: `password [redacted] refused; pwd and upwards stay`},
		"bearer header":     {in: `upstream said: Authorization: Bearer abcdefgh12345678`, want: `upstream said: Authorization: Bearer [redacted]`},
		"json field":        {in: `body {"token":"unknown-tok","method":"bearer"}`, want: `body {"token":"[redacted]","method":"bearer"}`},
		"key=value":         {in: `client_secret=xyz&client_id=abc`, want: `client_secret="[redacted]"&client_id=abc`},
		"nothing secret": {
			in:   `authorization.tokenSecretRef is required when authorization.method is bearer; Missing required property: token`,
			want: `authorization.tokenSecretRef is required when authorization.method is bearer; Missing required property: token`,
		},
		"email is not user-info": {in: `owner alice@example.com`, want: `owner alice@example.com`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := r.String(tc.in); got != tc.want {
				t.Errorf("String()\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestRedactorError(t *testing.T) {
	r := New("s3cr3t-token-value")
	orig := &statusError{"400: echo s3cr3t-token-value"}
	err := r.Error(orig)
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("Error() = %q leaks the value", err)
	}
	if _, ok := errors.AsType[*statusError](err); !ok {
		t.Errorf("errors.As lost the original error")
	}
	clean := errors.New("nothing to hide")
	if r.Error(clean) != clean { //nolint:errorlint // Identity, not a match: an error with nothing to mask comes back unwrapped.
		t.Errorf("Error() wrapped an error with nothing to mask")
	}
	if r.Error(nil) != nil {
		t.Errorf("Error(nil) != nil")
	}
	var none *Redactor
	if got := none.String("https://u:p@h"); got != "https://[redacted]@h" {
		t.Errorf("a nil Redactor still masks patterns; got %q", got)
	}
}
