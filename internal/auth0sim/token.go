package auth0sim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"time"
)

type tokenInfo struct {
	clientID string
	expires  time.Time
}

// Authentication API errors have their own shape (OAuth 2.0's), unlike the
// Management API's.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	Scope       string `json:"scope"`
	ExpiresIn   int64  `json:"expires_in"`
	TokenType   string `json:"token_type"`
}

const tokenScope = "read:event_streams create:event_streams update:event_streams delete:event_streams"

// token implements the client-credentials grant. Client authentication is
// accepted in the body or as HTTP basic, like Auth0.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	params := url.Values{}
	body, aerr := readBody(r)
	if aerr != nil {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "Invalid request body"})
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "Invalid JSON body"})
			return
		}
		for k, v := range m {
			if str, ok := v.(string); ok {
				params.Set(k, str)
			}
		}
	case "application/x-www-form-urlencoded":
		var err error
		if params, err = url.ParseQuery(string(body)); err != nil {
			writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "Invalid form body"})
			return
		}
	default:
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "Unsupported content type"})
		return
	}
	if gt := params.Get("grant_type"); gt != "client_credentials" {
		writeJSON(w, http.StatusForbidden, oauthError{"unauthorized_client", "Grant type '" + gt + "' not allowed for the client."})
		return
	}
	id, secret := params.Get("client_id"), params.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	want, known := s.opts.Clients[id]
	if !known || subtle.ConstantTimeCompare([]byte(want), []byte(secret)) != 1 {
		writeJSON(w, http.StatusUnauthorized, oauthError{"access_denied", "Unauthorized"})
		return
	}
	if aud := params.Get("audience"); aud != "https://"+r.Host+"/api/v2/" && aud != "https://"+s.opts.Domain+"/api/v2/" {
		writeJSON(w, http.StatusForbidden, oauthError{"access_denied", "Service not enabled within domain: " + aud})
		return
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		writeJSON(w, http.StatusInternalServerError, oauthError{"server_error", "cannot issue token"})
		return
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	s.mu.Lock()
	now := s.now()
	for t, info := range s.tokens {
		if !now.Before(info.expires) {
			delete(s.tokens, t)
		}
	}
	s.tokens[tok] = tokenInfo{clientID: id, expires: now.Add(s.opts.TokenTTL)}
	s.counters.tokens++
	s.mu.Unlock()
	s.metrics.tokens.Inc()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: tok, Scope: tokenScope, TokenType: "Bearer",
		ExpiresIn: int64(s.opts.TokenTTL / time.Second),
	})
}

// authenticate checks the bearer token of a Management API call.
func (s *Server) authenticate(r *http.Request) *apiError {
	h := r.Header.Get("Authorization")
	if h == "" {
		return errUnauthorized("Missing authentication")
	}
	tok, ok := bearer(h)
	if !ok {
		return errUnauthorized("Bad HTTP authentication header format")
	}
	s.mu.Lock()
	info, known := s.tokens[tok]
	now := s.now()
	s.mu.Unlock()
	if !known {
		return errUnauthorized("Invalid token")
	}
	if !now.Before(info.expires) {
		return errUnauthorized("Expired token received for JSON Web Token validation")
	}
	return nil
}

// ExpireTokens makes every issued token expired, as if TokenTTL had passed.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for t, info := range s.tokens {
		info.expires = now
		s.tokens[t] = info
	}
}
