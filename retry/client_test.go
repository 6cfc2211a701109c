package retry

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fast is a policy with waits short enough for tests.
func fast() Policy {
	return Policy{
		Retries: 3,
		WaitMin: time.Millisecond,
		WaitMax: 5 * time.Millisecond,
		Timeout: 10 * time.Second,
		Stall:   10 * time.Second,
	}
}

// testCtx bounds every wait of a test.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// server starts a loopback server whose handler gets the 1-based number of
// each request. Handlers that block should also watch stop, which is closed
// before the server shuts down.
func server(t *testing.T, h func(n int, w http.ResponseWriter, r *http.Request, stop <-chan struct{})) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(int(hits.Add(1)), w, r, stop)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) }) // runs before srv.Close
	return srv, &hits
}

func get(ctx context.Context, c *http.Client, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return c.Do(req)
}

func TestClient(t *testing.T) {
	tests := []struct {
		name         string
		policy       func(*Policy)
		handler      func(n int, w http.ResponseWriter, r *http.Request, stop <-chan struct{})
		wantStatus   int    // when the client returns a response
		wantBody     string // of that response
		wantErr      string // substring of the error, when it returns one
		wantTries    int    // from a *GiveUpError, when it returns one
		wantRequests int
	}{
		{
			name: "503 twice then 200",
			handler: func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
				if n <= 2 {
					http.Error(w, "busy", http.StatusServiceUnavailable)
					return
				}
				io.WriteString(w, "ok")
			},
			wantStatus:   200,
			wantBody:     "ok",
			wantRequests: 3,
		},
		{
			name: "429 with Retry-After: 0 honoured",
			// Without Retry-After the wait would be an hour.
			policy: func(p *Policy) { p.WaitMin, p.WaitMax = time.Hour, time.Hour },
			handler: func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
				if n == 1 {
					w.Header().Set("Retry-After", "0")
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				io.WriteString(w, "ok")
			},
			wantStatus:   200,
			wantBody:     "ok",
			wantRequests: 2,
		},
		{
			name: "404 not retried",
			handler: func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
				http.NotFound(w, r)
			},
			wantStatus:   404,
			wantBody:     "404 page not found\n",
			wantRequests: 1,
		},
		{
			name: "410 not retried",
			handler: func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
				w.WriteHeader(http.StatusGone)
			},
			wantStatus:   410,
			wantRequests: 1,
		},
		{
			name: "403 not retried",
			handler: func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
				w.WriteHeader(http.StatusForbidden)
			},
			wantStatus:   403,
			wantRequests: 1,
		},
		{
			name: "501 not retried",
			handler: func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
				w.WriteHeader(http.StatusNotImplemented)
			},
			wantStatus:   501,
			wantRequests: 1,
		},
		{
			name: "500 until retries run out",
			handler: func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
				http.Error(w, "upstream timed out", http.StatusInternalServerError)
			},
			wantErr:      "500 Internal Server Error (4 tries)\n\tserver response: upstream timed out",
			wantTries:    4,
			wantRequests: 4,
		},
		{
			name:   "500 without retries",
			policy: func(p *Policy) { p.Retries = 0 },
			handler: func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
				w.WriteHeader(http.StatusInternalServerError)
			},
			wantErr:      "500 Internal Server Error",
			wantRequests: 1,
		},
		{
			name:   "no headers within Timeout retried",
			policy: func(p *Policy) { p.Timeout = 50 * time.Millisecond },
			handler: func(n int, w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
				if n == 1 {
					select {
					case <-r.Context().Done():
					case <-stop:
					}
					return
				}
				io.WriteString(w, "ok")
			},
			wantStatus:   200,
			wantBody:     "ok",
			wantRequests: 2,
		},
		{
			name: "connection closed without a response retried",
			handler: func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
				if n == 1 {
					conn, _, err := http.NewResponseController(w).Hijack()
					if err == nil {
						conn.Close()
					}
					return
				}
				io.WriteString(w, "ok")
			},
			wantStatus:   200,
			wantBody:     "ok",
			wantRequests: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, hits := server(t, tt.handler)
			p := fast()
			if tt.policy != nil {
				tt.policy(&p)
			}
			resp, err := get(testCtx(t), p.Client(nil), srv.URL)
			if tt.wantErr != "" {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("got %s, want error %q", resp.Status, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				if _, ok := errors.AsType[*StatusError](err); !ok {
					t.Errorf("error %q does not wrap a *StatusError", err)
				}
				gu, ok := errors.AsType[*GiveUpError](err)
				switch {
				case tt.wantTries == 0 && ok:
					t.Errorf("error %q has a *GiveUpError", err)
				case tt.wantTries > 0 && (!ok || gu.Tries != tt.wantTries):
					t.Errorf("error %q: want *GiveUpError with %d tries", err, tt.wantTries)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tt.wantStatus || string(body) != tt.wantBody {
					t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
				}
			}
			if got := int(hits.Load()); got != tt.wantRequests {
				t.Errorf("server saw %d requests, want %d", got, tt.wantRequests)
			}
		})
	}
}

func TestClientCertificateErrorNotRetried(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("handler reached through an untrusted certificate")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // "TLS handshake error"
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	// A retry would wait an hour and trip the test's deadline.
	p := fast()
	p.WaitMin, p.WaitMax = time.Hour, time.Hour
	resp, err := get(testCtx(t), p.Client(nil), srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got %s, want a certificate error", resp.Status)
	}
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); !ok {
		t.Errorf("error %q is not a *tls.CertificateVerificationError", err)
	}
	if Transient(err) {
		t.Errorf("Transient(%q) = true", err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestClientCancelStopsWaiting(t *testing.T) {
	hit := make(chan struct{}, 1)
	srv, hits := server(t, func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		w.WriteHeader(http.StatusServiceUnavailable)
		select {
		case hit <- struct{}{}:
		default:
		}
	})
	p := fast()
	p.WaitMin, p.WaitMax = time.Hour, time.Hour
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	done := make(chan error, 1)
	go func() {
		resp, err := get(ctx, p.Client(nil), srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case <-hit:
	case <-testCtx(t).Done():
		t.Fatal("no request reached the server")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	case <-testCtx(t).Done():
		t.Fatal("client still waiting after cancel")
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

// TestClientLogsToSlog checks that every line the client logs is gomodx's
// own: one debug line per retry, and nothing from go-retryablehttp, whose
// "request failed" lines at level ERROR would otherwise flood -v.
func TestClientLogsToSlog(t *testing.T) {
	srv, _ := server(t, func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		switch n {
		case 1: // a transport error: go-retryablehttp logs these at ERROR
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			conn.Close()
		case 2:
			w.WriteHeader(http.StatusBadGateway)
		default:
			io.WriteString(w, "ok")
		}
	})
	var buf strings.Builder
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	resp, err := get(testCtx(t), fast().Client(logger), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := []string{
		`level=DEBUG msg=retrying url=` + srv.URL + ` attempt=2 error=EOF`,
		`level=DEBUG msg=retrying url=` + srv.URL + ` attempt=3 error="502 Bad Gateway"`,
	}
	if got := strings.Split(strings.TrimSpace(buf.String()), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("log:\n%s\nwant:\n%s", buf.String(), strings.Join(want, "\n"))
	}
}
