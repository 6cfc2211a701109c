package loopback

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// Rewrite returns a writer that passes the go command's output on to w,
// with every URL of the Endpoint (which holds its secret path) replaced by
// the mirror the go command would have named: the one whose answer decided
// that request, else the Shown mirror. So go's messages read as they
// would without gomodx ("reading https://proxy.golang.org/…: 404 Not
// Found"), and the secret path never reaches a terminal or a CI log. Call
// Flush when the go command has exited.
func (e *Endpoint) Rewrite(w io.Writer) *Rewriter {
	return &Rewriter{w: w, e: e, prefix: []byte(e.URL)}
}

// Rewriter is the writer Rewrite returns.
type Rewriter struct {
	w      io.Writer
	e      *Endpoint
	prefix []byte

	mu      sync.Mutex
	pending []byte // output held back: it may end inside a URL of the Endpoint
	err     error
}

// Write rewrites and passes on p, holding back only a tail that might be
// the start of a URL still being written.
func (r *Rewriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return 0, r.err
	}
	r.pending = append(r.pending, p...)
	out, keep := r.rewrite(r.pending, false)
	r.pending = append(r.pending[:0], keep...)
	if len(out) > 0 {
		if _, err := r.w.Write(out); err != nil {
			r.err = err
			return 0, err
		}
	}
	return len(p), nil
}

// Flush passes on what was held back.
func (r *Rewriter) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	out, _ := r.rewrite(r.pending, true)
	r.pending = r.pending[:0]
	if len(out) == 0 || r.err != nil {
		return r.err
	}
	_, err := r.w.Write(out)
	return err
}

// rewrite returns buf rewritten, and the tail of buf to hold back (unless
// final): an unfinished URL of the Endpoint, or what could start one.
func (r *Rewriter) rewrite(buf []byte, final bool) (out, keep []byte) {
	for {
		i := bytes.Index(buf, r.prefix)
		if i < 0 {
			break
		}
		out = append(out, buf[:i]...)
		rest := buf[i+len(r.prefix):]
		end := bytes.IndexFunc(rest, endOfURL)
		if end < 0 && !final {
			return out, buf[i:] // the URL goes on in the next write
		}
		if end < 0 {
			end = len(rest)
		}
		path := strings.TrimPrefix(string(rest[:end]), "/")
		out = append(out, r.e.shownFor(path)...)
		out = append(out, rest[:end]...)
		buf = rest[end:]
	}
	if final {
		return append(out, buf...), nil
	}
	// Hold back a tail that is the beginning of the prefix.
	n := min(len(buf), len(r.prefix)-1)
	for ; n > 0; n-- {
		if bytes.HasPrefix(r.prefix, buf[len(buf)-n:]) {
			break
		}
	}
	return append(out, buf[:len(buf)-n]...), buf[len(buf)-n:]
}

// endOfURL reports whether c ends a URL in the go command's output.
func endOfURL(c rune) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '"', '\'', ')', '>', ',', ':':
		return true
	}
	return false
}

// shownFor is the mirror to name for a request path.
func (e *Endpoint) shownFor(path string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if m, ok := e.answer[path]; ok {
		return m
	}
	return e.shown
}
