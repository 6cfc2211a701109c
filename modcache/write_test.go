package modcache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/module"
)

func TestPutZip(t *testing.T) {
	mod := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	good := makeZip(t, mod, map[string]string{
		"go.mod": "module example.com/a\n",
		"a.go":   "package a\n",
	})
	goodSum := zipSum(t, good)
	// bigger is another valid zip, larger than good, so that a temp file
	// that is not truncated between attempts would leave its tail behind.
	bigger := makeZip(t, mod, map[string]string{
		"go.mod": "module example.com/a\n",
		"a.go":   "package a\n\n// " + strings.Repeat("padding ", 512) + "\n",
	})
	biggerSum := zipSum(t, bigger)
	outside := rawZip(t, map[string]string{
		"example.com/a@v1.0.0/go.mod": "module example.com/a\n",
		"example.com/evil/evil.go":    "package evil\n",
	})

	tests := []struct {
		name     string
		want     string   // go.sum hash
		bodies   [][]byte // what successive mirrors serve
		wantErr  error    // nil, or a zero *HashMismatchError or *InvalidError for its type
		attempts int
	}{
		{name: "good zip accepted", want: goodSum, bodies: [][]byte{good}, attempts: 1},
		{name: "no go.sum hash still checked and hashed", want: "", bodies: [][]byte{good}, attempts: 1},
		{name: "hash mismatch", want: goodSum, bodies: [][]byte{bigger}, wantErr: &HashMismatchError{}, attempts: 1},
		{name: "not a zip", want: goodSum, bodies: [][]byte{[]byte("<html>502 Bad Gateway</html>")}, wantErr: &InvalidError{}, attempts: 1},
		{name: "file outside module prefix", want: "", bodies: [][]byte{outside}, wantErr: &InvalidError{}, attempts: 1},
		{name: "rejected attempt then accepted one", want: goodSum, bodies: [][]byte{bigger, good}, attempts: 2},
		{name: "invalid attempt then accepted one", want: goodSum, bodies: [][]byte{[]byte("garbage"), good}, attempts: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := openCache(t)
			zipfile := mustPath(t, c, mod, "zip")
			attempts := 0
			err := c.PutZip(t.Context(), mod, tt.want, mirrors(&attempts, tt.bodies...))
			if attempts != tt.attempts {
				t.Errorf("attempts = %d, want %d", attempts, tt.attempts)
			}
			dir := filepath.Dir(zipfile)
			if tt.wantErr != nil {
				checkErrType(t, err, tt.wantErr)
				if got, want := dirNames(t, dir), []string{"v1.0.0.lock"}; !slices.Equal(got, want) {
					t.Errorf("cache dir holds %q after failure, want only %q", got, want)
				}
				if c.Has(mod, Zip, tt.want) {
					t.Error("Has(Zip) = true after failure")
				}
				return
			}
			if err != nil {
				t.Fatalf("PutZip: %v", err)
			}
			if got, want := dirNames(t, dir), []string{"v1.0.0.lock", "v1.0.0.zip", "v1.0.0.ziphash"}; !slices.Equal(got, want) {
				t.Errorf("cache dir holds %q, want %q", got, want)
			}
			data, err := os.ReadFile(zipfile)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, good) {
				t.Errorf("cached zip differs from the accepted body (%d bytes, want %d)", len(data), len(good))
			}
			sum, err := os.ReadFile(zipfile + "hash")
			if err != nil {
				t.Fatal(err)
			}
			if string(sum) != goodSum {
				t.Errorf(".ziphash = %q, want %q", sum, goodSum)
			}
			if !c.Has(mod, Zip, goodSum) {
				t.Error("Has(Zip) = false after PutZip")
			}
		})
	}

	t.Run("mismatch error names both hashes", func(t *testing.T) {
		c := openCache(t)
		attempts := 0
		err := c.PutZip(t.Context(), mod, goodSum, mirrors(&attempts, bigger))
		want := "checksum mismatch\n\tdownloaded: " + biggerSum + "\n\tgo.sum:     " + goodSum
		if err == nil || err.Error() != want {
			t.Errorf("err = %v, want %q", err, want)
		}
		var mm *HashMismatchError
		if !errors.As(err, &mm) || mm.Mod != mod || mm.Kind != Zip || mm.Want != goodSum || mm.Got != biggerSum {
			t.Errorf("err = %#v, want HashMismatchError{%v, zip, %s, %s}", err, mod, goodSum, biggerSum)
		}
	})
}

func TestPutZipCacheStates(t *testing.T) {
	mod := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	good := makeZip(t, mod, map[string]string{"go.mod": "module example.com/a\n"})
	goodSum := zipSum(t, good)

	t.Run("complete entry is not fetched again", func(t *testing.T) {
		c := openCache(t)
		attempts := 0
		for range 2 {
			if err := c.PutZip(t.Context(), mod, goodSum, mirrors(&attempts, good)); err != nil {
				t.Fatal(err)
			}
		}
		if attempts != 1 {
			t.Errorf("attempts = %d, want 1", attempts)
		}
	})

	t.Run("leftover temp files are removed", func(t *testing.T) {
		c := openCache(t)
		zipfile := mustPath(t, c, mod, "zip")
		if err := os.MkdirAll(filepath.Dir(zipfile), 0o777); err != nil {
			t.Fatal(err)
		}
		stale := zipfile + "12345.tmp"
		if err := os.WriteFile(stale, []byte("half a zip"), 0o666); err != nil {
			t.Fatal(err)
		}
		attempts := 0
		if err := c.PutZip(t.Context(), mod, goodSum, mirrors(&attempts, good)); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale temp file still present: %v", err)
		}
	})

	t.Run("torn ziphash is replaced", func(t *testing.T) {
		c := openCache(t)
		zipfile := mustPath(t, c, mod, "zip")
		if err := os.MkdirAll(filepath.Dir(zipfile), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(zipfile, []byte("forged"), 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(zipfile+"hash", make([]byte, len(goodSum)), 0o666); err != nil {
			t.Fatal(err)
		}
		attempts := 0
		if err := c.PutZip(t.Context(), mod, goodSum, mirrors(&attempts, good)); err != nil {
			t.Fatal(err)
		}
		if data, _ := os.ReadFile(zipfile); !bytes.Equal(data, good) {
			t.Error("old zip was not replaced")
		}
		if !c.Has(mod, Zip, goodSum) {
			t.Error("Has(Zip) = false after repair")
		}
	})

	t.Run("cancelled context leaves nothing", func(t *testing.T) {
		c := openCache(t)
		ctx, cancel := context.WithCancel(t.Context())
		dl := func(store func(io.Reader) error) error {
			cancel()
			return store(bytes.NewReader(good))
		}
		err := c.PutZip(ctx, mod, goodSum, dl)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		dir := filepath.Dir(mustPath(t, c, mod, "zip"))
		if got := dirNames(t, dir); !slices.Equal(got, []string{"v1.0.0.lock"}) {
			t.Errorf("cache dir holds %q after cancel", got)
		}
	})

	t.Run("success without an accepted body is an error", func(t *testing.T) {
		c := openCache(t)
		err := c.PutZip(t.Context(), mod, goodSum, func(func(io.Reader) error) error { return nil })
		if err == nil || !strings.HasPrefix(err.Error(), "example.com/a@v1.0.0: downloading zip: ") {
			t.Errorf("err = %v, want a downloading zip error", err)
		}
	})

	t.Run("download errors are returned as they are", func(t *testing.T) {
		c := openCache(t)
		notFound := errors.New("example.com/a@v1.0.0: downloading zip from https://m: 404 Not Found")
		err := c.PutZip(t.Context(), mod, goodSum, func(func(io.Reader) error) error { return notFound })
		if err != notFound {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("concurrent puts download once", func(t *testing.T) {
		c := openCache(t)
		var mu sync.Mutex
		attempts := 0
		dl := func(store func(io.Reader) error) error {
			mu.Lock()
			attempts++
			mu.Unlock()
			return store(bytes.NewReader(good))
		}
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() { errs[i] = c.PutZip(t.Context(), mod, goodSum, dl) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if !c.Has(mod, Zip, goodSum) {
			t.Error("Has(Zip) = false")
		}
		// Every goroutine may pass the unlocked check before the first
		// commits, but under the lock only the first downloads.
		if attempts != 1 {
			t.Errorf("attempts = %d, want 1", attempts)
		}
	})
}

func TestPutInfo(t *testing.T) {
	const pseudo = "v0.0.0-20240123185404-0123456789ab"
	tests := []struct {
		name    string
		version string
		body    string
		want    string // file content; "" means PutInfo fails with an InvalidError
	}{
		{
			name:    "re-encoded canonically",
			version: "v1.0.0",
			body:    "{\n\t\"Version\": \"v1.0.0\",\n\t\"Time\": \"2024-01-23T18:54:04Z\"\n}\n",
			want:    `{"Version":"v1.0.0","Time":"2024-01-23T18:54:04Z"}`,
		},
		{
			name:    "unknown fields dropped",
			version: "v1.0.0",
			body:    `{"Version":"v1.0.0","Time":"2024-01-23T18:54:04Z","Name":"0123456789abcdef","Short":"0123456789ab"}`,
			want:    `{"Version":"v1.0.0","Time":"2024-01-23T18:54:04Z"}`,
		},
		{
			name:    "origin cleaned for a tag",
			version: "v1.0.0",
			body: `{"Version":"v1.0.0","Time":"2024-01-23T18:54:04Z","Origin":{"VCS":"git","URL":"https://example.com/a",` +
				`"Hash":"0123456789abcdef","TagPrefix":"","TagSum":"t1:xyz","Ref":"refs/tags/v1.0.0","RepoSum":"r1:xyz"}}`,
			want: `{"Version":"v1.0.0","Time":"2024-01-23T18:54:04Z","Origin":{"VCS":"git","URL":"https://example.com/a",` +
				`"Hash":"0123456789abcdef","Ref":"refs/tags/v1.0.0"}}`,
		},
		{
			name:    "pseudo-version loses ref",
			version: pseudo,
			body:    `{"Version":"` + pseudo + `","Time":"2024-01-23T18:54:04Z","Origin":{"VCS":"git","Hash":"0123456789ab","Ref":"refs/heads/main"}}`,
			want:    `{"Version":"` + pseudo + `","Time":"2024-01-23T18:54:04Z","Origin":{"VCS":"git","Hash":"0123456789ab"}}`,
		},
		{name: "wrong version", version: "v1.0.0", body: `{"Version":"v1.0.1","Time":"2024-01-23T18:54:04Z"}`},
		{name: "not json", version: "v1.0.0", body: "<html>not found</html>"},
		{name: "empty", version: "v1.0.0", body: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := openCache(t)
			mod := module.Version{Path: "example.com/a", Version: tt.version}
			attempts := 0
			err := c.PutInfo(t.Context(), mod, mirrors(&attempts, []byte(tt.body)))
			file := mustPath(t, c, mod, "info")
			if tt.want == "" {
				checkErrType(t, err, &InvalidError{})
				if names := dirNames(t, filepath.Dir(file)); len(names) != 0 {
					t.Errorf("cache dir holds %q after failure", names)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != tt.want {
				t.Errorf("info = %s\nwant   %s", data, tt.want)
			}
			if !c.Has(mod, Info, "") {
				t.Error("Has(Info) = false after PutInfo")
			}
		})
	}
}

func TestPutMod(t *testing.T) {
	mod := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	const gomod = "module example.com/a\n\ngo 1.21\n"
	tests := []struct {
		name    string
		want    string
		body    string
		wantErr error
	}{
		{name: "hash matches", want: modSum(t, gomod), body: gomod},
		{name: "no hash, parses", want: "", body: gomod},
		{name: "hash mismatch", want: modSum(t, gomod), body: gomod + "\nrequire example.com/evil v1.0.0\n", wantErr: &HashMismatchError{}},
		{name: "empty", want: "", body: "", wantErr: &InvalidError{}},
		{name: "empty with hash", want: modSum(t, ""), body: "", wantErr: &InvalidError{}},
		{name: "no hash, does not parse", want: "", body: "module \"example.com/a\n", wantErr: &InvalidError{}},
		{name: "no hash, html page", want: "", body: "<html>404 page not found</html>\n", wantErr: &InvalidError{}},
		// With a hash, the bytes are what the author published; go takes them.
		{name: "hash matches, does not parse", want: modSum(t, "modul e x\n"), body: "modul e x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := openCache(t)
			attempts := 0
			err := c.PutMod(t.Context(), mod, tt.want, mirrors(&attempts, []byte(tt.body)))
			file := mustPath(t, c, mod, "mod")
			if tt.wantErr != nil {
				checkErrType(t, err, tt.wantErr)
				if names := dirNames(t, filepath.Dir(file)); len(names) != 0 {
					t.Errorf("cache dir holds %q after failure", names)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if data, _ := os.ReadFile(file); string(data) != tt.body {
				t.Errorf(".mod = %q, want %q", data, tt.body)
			}
			if !c.Has(mod, Mod, tt.want) {
				t.Error("Has(Mod) = false after PutMod")
			}
		})
	}

	t.Run("mismatch error message", func(t *testing.T) {
		c := openCache(t)
		want := modSum(t, gomod)
		bad := gomod + "// changed\n"
		attempts := 0
		err := c.PutMod(t.Context(), mod, want, mirrors(&attempts, []byte(bad)))
		msg := "checksum mismatch\n\tdownloaded: " + modSum(t, bad) + "\n\tgo.sum:     " + want
		if err == nil || err.Error() != msg {
			t.Errorf("err = %v\nwant %s", err, msg)
		}
	})
}

func TestPutModVersionList(t *testing.T) {
	c := openCache(t)
	// Written out of order, and v1.10.0 sorts after v1.2.0 only by semver.
	for _, v := range []string{"v1.10.0", "v1.2.0"} {
		mod := module.Version{Path: "example.com/a", Version: v}
		attempts := 0
		if err := c.PutMod(t.Context(), mod, "", mirrors(&attempts, []byte("module example.com/a\n"))); err != nil {
			t.Fatal(err)
		}
	}
	// An .info without a .mod does not make a version usable.
	attempts := 0
	infoMod := module.Version{Path: "example.com/a", Version: "v1.5.0"}
	if err := c.PutInfo(t.Context(), infoMod, mirrors(&attempts, []byte(`{"Version":"v1.5.0"}`))); err != nil {
		t.Fatal(err)
	}
	list, err := os.ReadFile(filepath.Join(c.Root(), "cache/download/example.com/a/@v/list"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1.2.0\nv1.10.0\n"; string(list) != want {
		t.Errorf("list = %q, want %q", list, want)
	}
}

// checkErrType fails t unless err is of the same type as target (a zero
// *HashMismatchError or *InvalidError) and its message starts with the
// module it is about.
func checkErrType(t *testing.T, err, target error) {
	t.Helper()
	switch target.(type) {
	case *HashMismatchError:
		var e *HashMismatchError
		if !errors.As(err, &e) {
			t.Fatalf("err = %v, want a *HashMismatchError", err)
		}
	case *InvalidError:
		var e *InvalidError
		if !errors.As(err, &e) {
			t.Fatalf("err = %v, want an *InvalidError", err)
		}
		if e.Unwrap() == nil {
			t.Errorf("InvalidError has no cause")
		}
	}
	// The message leaves the module to the Download's context; the
	// error still carries it for callers.
	var mm *HashMismatchError
	var inv *InvalidError
	switch {
	case errors.As(err, &mm) && mm.Mod.Path != "example.com/a",
		errors.As(err, &inv) && inv.Mod.Path != "example.com/a":
		t.Errorf("err = %#v, want it to carry the module", err)
	}
}
