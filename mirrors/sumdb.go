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
// (cmd/go/internal/modfetch/sumdb.go). An explicit URL (GOSUMDB's
// "name+key url") is used as it is, bypassing the mirrors. Otherwise, once
// per List, it asks GOPROXY's mirrors, in order, for
// <mirror>/sumdb/<name>/supported: the first that answers 200 serves every
// request to the database from then on, and a not-found from it is final;
// a 404 or 410 (or any failure, after '|') moves on to the next; any other
// failure makes the database unavailable. Only when the walk reaches
// "direct", "off" or the end of GOPROXY does gomodx go to the database
// itself, at https://<name>. Reads are retried like every other request.
func (l *List) SumDB(ctx context.Context, name, explicitURL, path string) ([]byte, error) {
	var route dbRoute
	if explicitURL == "" {
		route = l.sumdbRoute(ctx, name)
	}
	if route.err != nil {
		return nil, route.err
	}
	var buf bytes.Buffer
	store := func(body io.Reader) error {
		buf.Reset()
		_, err := io.Copy(&buf, body)
		return err
	}
	if route.groups != nil {
		rel := "sumdb/" + name + path
		if err := l.walkGroups(ctx, route.groups, &Error{File: rel}, rel, maxGoMod, store); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	base := explicitURL
	if base == "" {
		base = "https://" + name
	}
	if err := l.GetURL(ctx, strings.TrimSuffix(base, "/")+path, store); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// dbRoute is how a checksum database is reached: through the group whose
// mirror proxies it, directly (groups nil), or not at all (err).
type dbRoute struct {
	groups []*group
	err    error
}

// sumdbRoute decides, once per database name, how the database is reached
// (see SumDB). A decision cut short by ctx is not kept.
func (l *List) sumdbRoute(ctx context.Context, name string) dbRoute {
	l.dbMu.Lock()
	defer l.dbMu.Unlock()
	if r, ok := l.dbRoutes[name]; ok {
		return r
	}
	r := l.findSumDBRoute(ctx, name)
	if ctx.Err() == nil {
		if l.dbRoutes == nil {
			l.dbRoutes = map[string]dbRoute{}
		}
		l.dbRoutes[name] = r
	}
	return r
}

func (l *List) findSumDBRoute(ctx context.Context, name string) dbRoute {
	rel := "sumdb/" + name + "/supported"
	for i, g := range l.groups {
		if g.keyword() {
			return dbRoute{} // direct or off: to the database itself
		}
		groups := l.groups[i : i+1]
		err := l.walkGroups(ctx, groups, &Error{File: rel}, rel, maxGoMod, func(body io.Reader) error {
			_, err := io.Copy(io.Discard, body)
			return err
		})
		switch {
		case err == nil:
			return dbRoute{groups: groups}
		case errors.Is(err, fs.ErrNotExist), g.fallBackOnError && ctx.Err() == nil:
			continue
		}
		return dbRoute{err: fmt.Errorf("checksum database %s: %w", name, err)}
	}
	return dbRoute{}
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
