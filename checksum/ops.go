package checksum

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/lockedfile"
	"golang.org/x/mod/sumdb"
)

// The methods below make *session a sumdb.ClientOps. They follow
// cmd/go/internal/modfetch/sumdb.go's dbClient line by line, so that files
// land where the go command looks for them, in the same format and under the
// same locks, and a go process running at the same time is never disturbed.

var _ sumdb.ClientOps = (*session)(nil)

// ReadRemote reads path through the caller's Remote, under the session's
// context.
func (s *session) ReadRemote(path string) ([]byte, error) {
	data, err := s.db.remote(s.ctx, s.db.name, path)
	if err != nil && strings.HasPrefix(path, "/lookup/") {
		s.lookupErrs.Store(path, err)
	}
	return data, err
}

// ReadConfig returns the verifier key for "key", and otherwise reads
// $GOPATH/pkg/sumdb/<file> ("<name>/latest"); a missing file reads as empty,
// which starts the Client from the empty tree.
func (s *session) ReadConfig(file string) ([]byte, error) {
	if file == "key" {
		return []byte(s.db.key), nil
	}
	if s.db.configDir == "" {
		return nil, fmt.Errorf("could not locate sumdb file: missing $GOPATH: %s", s.db.configErr)
	}
	data, err := lockedfile.Read(filepath.Join(s.db.configDir, file))
	if errors.Is(err, fs.ErrNotExist) {
		return []byte{}, nil
	}
	return data, err
}

// WriteConfig replaces $GOPATH/pkg/sumdb/<file> (the latest tree head) with
// new, under the file's lock, unless someone else (another lookup, another
// gomodx, a go command) has changed it from old in the meantime: then it
// returns sumdb.ErrWriteConflict, and the Client merges what is there and
// tries again.
func (s *session) WriteConfig(file string, old, new []byte) error {
	if file == "key" {
		return fmt.Errorf("cannot write key")
	}
	if s.db.configDir == "" {
		return fmt.Errorf("could not locate sumdb file: missing $GOPATH: %s", s.db.configErr)
	}
	targ := filepath.Join(s.db.configDir, file)
	os.MkdirAll(filepath.Dir(targ), 0o777)
	f, err := lockedfile.Edit(targ)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	if len(data) > 0 && !bytes.Equal(data, old) {
		return sumdb.ErrWriteConflict
	}
	if _, err := f.Seek(0, 0); err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.Write(new); err != nil {
		return err
	}
	return f.Close()
}

// ReadCache reads $GOMODCACHE/cache/download/sumdb/<file>. An empty file
// counts as missing: lockedfile.Write creates the file before it takes the
// lock, so a reader can see it empty.
func (s *session) ReadCache(file string) ([]byte, error) {
	targ := filepath.Join(s.db.cacheDir, file)
	data, err := lockedfile.Read(targ)
	if err == nil && len(data) == 0 {
		err = &fs.PathError{Op: "read", Path: targ, Err: fs.ErrNotExist}
	}
	return data, err
}

// WriteCache writes $GOMODCACHE/cache/download/sumdb/<file>. The Client calls
// it only with authenticated data. Failures are ignored, as the go command
// ignores them: the data is fetched again next time.
func (s *session) WriteCache(file string, data []byte) {
	targ := filepath.Join(s.db.cacheDir, file)
	os.MkdirAll(filepath.Dir(targ), 0o777)
	lockedfile.Write(targ, bytes.NewReader(data), 0o666)
}

// Log discards the Client's progress messages.
func (s *session) Log(msg string) {}

// SecurityError records the Client's report of misbehaviour. The Client then
// fails the operation with sumdb.ErrSecurity; Lookup returns the report.
func (s *session) SecurityError(msg string) {
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	if s.db.secErr == nil {
		s.db.secErr = &SecurityError{Msg: msg}
	}
}
