package checksumtest_test

import (
	"fmt"
	"io/fs"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/gomodx/gomodx/checksum/checksumtest"
)

// txtarSums returns a sums function for NewServer that knows the modules in
// archives, keyed by "path@version".
func txtarSums(archives map[string]*txtar.Archive) func(path, version string) ([]byte, error) {
	return func(path, version string) ([]byte, error) {
		a, ok := archives[path+"@"+version]
		if !ok {
			return nil, fs.ErrNotExist // the database answers 404
		}
		return checksumtest.ArchiveSums(path, version, a)
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
