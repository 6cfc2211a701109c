package retry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"
)

func TestBody(t *testing.T) {
	tests := []struct {
		name    string
		stall   time.Duration
		minRate int64
		anyBody bool // how much arrives before the verdict depends on timing
		handler func(w http.ResponseWriter, stop <-chan struct{})
		cancel  bool // cancel the caller's context after the first bytes
		want    string
		wantErr error
	}{
		{
			name:  "stalls mid-body",
			stall: 50 * time.Millisecond,
			handler: func(w http.ResponseWriter, stop <-chan struct{}) {
				w.Header().Set("Content-Length", "100")
				io.WriteString(w, "hello")
				http.NewResponseController(w).Flush()
				<-stop
			},
			want:    "hello",
			wantErr: ErrStalled,
		},
		{
			name:  "slow but moving is not a stall",
			stall: time.Second,
			handler: func(w http.ResponseWriter, stop <-chan struct{}) {
				for _, s := range []string{"a", "b", "c", "d", "e"} {
					io.WriteString(w, s)
					http.NewResponseController(w).Flush()
					time.Sleep(5 * time.Millisecond)
				}
			},
			want: "abcde",
		},
		{
			name:    "a trickle below the floor is a stall",
			stall:   50 * time.Millisecond,
			minRate: 1 << 20, // 1 MiB/s; the handler sends a few bytes
			anyBody: true,
			handler: func(w http.ResponseWriter, stop <-chan struct{}) {
				w.Header().Set("Content-Length", "1000")
				for range 1000 {
					select {
					case <-stop:
						return
					case <-time.After(time.Millisecond):
					}
					io.WriteString(w, "x")
					http.NewResponseController(w).Flush()
				}
			},
			wantErr: ErrStalled,
		},
		{
			name:  "caller's cancel is not a stall",
			stall: time.Hour,
			handler: func(w http.ResponseWriter, stop <-chan struct{}) {
				w.Header().Set("Content-Length", "100")
				io.WriteString(w, "hello")
				http.NewResponseController(w).Flush()
				<-stop
			},
			cancel:  true,
			want:    "hello",
			wantErr: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := server(t, func(_ int, w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
				merged := make(chan struct{})
				go func() {
					select {
					case <-stop:
					case <-r.Context().Done():
					}
					close(merged)
				}()
				tt.handler(w, merged)
			})
			p := fast()
			p.Stall = tt.stall
			p.MinRate = tt.minRate
			parent, cancelParent := context.WithCancel(testCtx(t))
			defer cancelParent()
			ctx, cancel := context.WithCancel(parent)
			defer cancel()
			resp, err := get(ctx, p.Client(nil), srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body := p.Body(ctx, cancel, resp.Body)
			defer body.Close()

			start := time.Now()
			buf := make([]byte, 5)
			n, err := io.ReadFull(body, buf)
			got := string(buf[:n])
			if err == nil {
				if tt.cancel {
					cancelParent()
				}
				var rest []byte
				rest, err = io.ReadAll(body)
				got += string(rest)
			}
			if !tt.anyBody && got != tt.want {
				t.Errorf("read %q, want %q", got, tt.want)
			}
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("got error %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == ErrStalled && time.Since(start) > 5*time.Second {
				t.Errorf("stall noticed after %v", time.Since(start))
			}
		})
	}
}
