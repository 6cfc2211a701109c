package mirrors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"

	"github.com/gomodx/gomodx/retry"
)

// SumDB reads path (e.g. "/lookup/golang.org/x/text@v0.21.0") from the
// checksum database called name, the way the go command reaches it
// (cmd/go/internal/modfetch/sumdb.go): through the mirrors that proxy it at
// <mirror>/sumdb/<name>/, else directly at https://<name>. An explicit URL
// from GOSUMDB ("name+key url") bypasses the mirrors, as it does for go.
// Reads are retried like every other request.
func (l *List) SumDB(ctx context.Context, name, explicitURL, path string) ([]byte, error) {
	var buf bytes.Buffer
	store := func(body io.Reader) error {
		buf.Reset()
		_, err := io.Copy(&buf, body)
		return err
	}
	if explicitURL == "" {
		err := l.Get(ctx, "sumdb/"+name+path, store)
		if err == nil {
			return buf.Bytes(), nil
		}
		// Only when no mirror proxies the database (not found everywhere,
		// or "direct"/"off" reached) does the go command go to it directly.
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errors.ErrUnsupported) {
			return nil, err
		}
		explicitURL = "https://" + name
	}
	if err := l.GetURL(ctx, strings.TrimSuffix(explicitURL, "/")+path, store); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// GetURL gets one URL, not under any mirror, with the List's client and
// policy, and hands the body of a 200 answer (at most 16 MB of it) to
// store: a checksum database reached directly.
func (l *List) GetURL(ctx context.Context, url string, store func(io.Reader) error) error {
	return l.policy.Do(ctx, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", l.userAgent)
		resp, err := l.client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("reading %s: %w", url, retry.NewStatusError(resp))
		}
		return store(io.LimitReader(resp.Body, maxGoMod))
	})
}
