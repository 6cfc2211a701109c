package checksumtest

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/txtar"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
)

// DirSums returns a sums function for NewServer that knows the txtar
// modules in dir, named and laid out as goproxytest serves them
// (example.com_a_v1.0.0.txt for example.com/a v1.0.0). A module that is
// not there is a 404.
func DirSums(dir string) func(path, version string) ([]byte, error) {
	return func(path, version string) ([]byte, error) {
		escPath, err := module.EscapePath(path)
		if err != nil {
			return nil, fs.ErrNotExist
		}
		a, err := txtar.ParseFile(filepath.Join(dir, strings.ReplaceAll(escPath, "/", "_")+"_"+version+".txt"))
		if err != nil {
			return nil, fs.ErrNotExist
		}
		return ArchiveSums(path, version, a)
	}
}

// ArchiveSums returns the go.sum lines of the module version that a holds,
// as goproxytest serves it: files whose names start with "." are not in the
// zip, and ".mod", or else "go.mod", is the go.mod. dirhash.Hash1 over the
// zip's entry names ("<path>@<version>/<file>") gives what HashZip gives
// for the zip itself.
func ArchiveSums(path, version string, a *txtar.Archive) ([]byte, error) {
	files := map[string][]byte{}
	var names []string
	var gomod, dotmod []byte
	for _, f := range a.Files {
		switch {
		case f.Name == ".mod":
			dotmod = f.Data
		case strings.HasPrefix(f.Name, "."):
		default:
			if f.Name == "go.mod" {
				gomod = f.Data
			}
			name := path + "@" + version + "/" + f.Name
			names = append(names, name)
			files[name] = f.Data
		}
	}
	if dotmod != nil {
		gomod = dotmod
	}
	open := func(data []byte) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	zipHash, err := dirhash.Hash1(names, func(name string) (io.ReadCloser, error) { return open(files[name]) })
	if err != nil {
		return nil, err
	}
	modHash, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) { return open(gomod) })
	if err != nil {
		return nil, err
	}
	return fmt.Appendf(nil, "%s %s %s\n%s %s/go.mod %s\n", path, version, zipHash, path, version, modHash), nil
}
