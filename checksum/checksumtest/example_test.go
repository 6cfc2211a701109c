package checksumtest_test

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/rogpeppe/go-internal/txtar"
	"golang.org/x/mod/sumdb/dirhash"
)

// txtarSums returns a sums function for NewServer that knows the modules in
// archives, keyed by "path@version" and laid out as goproxytest serves them:
// files whose names start with "." are not in the zip, and ".mod", or else
// "go.mod", is the go.mod.
func txtarSums(archives map[string]*txtar.Archive) func(path, version string) ([]byte, error) {
	return func(path, version string) ([]byte, error) {
		a, ok := archives[path+"@"+version]
		if !ok {
			return nil, fs.ErrNotExist // the database answers 404
		}
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
				name := path + "@" + version + "/" + f.Name // the zip's entry name
				names = append(names, name)
				files[name] = f.Data
			}
		}
		if dotmod != nil {
			gomod = dotmod
		}
		// Hash1 over the zip's entry names is what HashZip computes from the zip.
		zipHash, err := dirhash.Hash1(names, func(name string) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(files[name])), nil
		})
		if err != nil {
			return nil, err
		}
		modHash, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(gomod)), nil
		})
		if err != nil {
			return nil, err
		}
		return fmt.Appendf(nil, "%s %s %s\n%s %s/go.mod %s\n", path, version, zipHash, path, version, modHash), nil
	}
}

// A sums function for modules kept as txtar files. In a test, hand it to
// NewServer and serve the handler under the fake proxy:
//
//	h, gosumdb := checksumtest.NewServer(t, "sum.example.test", sums)
//	mux.Handle("/sumdb/sum.example.test/", http.StripPrefix("/sumdb/sum.example.test", h))
//	// run go with GOPROXY=<proxy> GOSUMDB=<gosumdb>
func Example_txtar() {
	sums := txtarSums(map[string]*txtar.Archive{
		"example.com/a@v1.0.0": txtar.Parse([]byte(`module example.com/a, used by the tests
-- .info --
{"Version":"v1.0.0"}
-- go.mod --
module example.com/a

go 1.22
-- a.go --
package a
`)),
	})
	lines, err := sums("example.com/a", "v1.0.0")
	fmt.Printf("%s%v\n", lines, err)
	_, err = sums("example.com/b", "v1.0.0")
	fmt.Println(err)
	// Output:
	// example.com/a v1.0.0 h1:bIvsTGvKRI8csKJhAMJXFCy/wifQMSQZf96oFiZDUhM=
	// example.com/a v1.0.0/go.mod h1:44GJcfLTS4Tsh6SpUYxzH9tGgRj4wtc5ygAZWOXqX4Y=
	// <nil>
	// file does not exist
}
