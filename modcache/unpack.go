package modcache

import (
	"archive/zip"
	"bufio"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// unpackBufSize is the size of the buffer a file's bytes go through: most
// files of a module fit in it whole, so they are written with one write
// call, and a large one in few.
const unpackBufSize = 256 << 10

// readBufSize is the size of the reads of a zip's compressed bytes.
// archive/zip's own inflater reads them 4 KiB at a time, one pread each.
const readBufSize = 64 << 10

// unpacker unpacks module zips and hashes what it writes. It holds one
// buffer and one inflater, so it serves one zip at a time.
type unpacker struct {
	buf   []byte
	in    *bufio.Reader
	flate io.ReadCloser // a flate.Resetter
}

func newUnpacker() *unpacker { return &unpacker{buf: make([]byte, unpackBufSize)} }

// inflate is the archive/zip Decompressor of the unpacker's zips: the
// standard library's inflater, as archive/zip's own, reused from file to
// file and reading through a larger buffer.
func (u *unpacker) inflate(r io.Reader) io.ReadCloser {
	if u.in == nil {
		u.in = bufio.NewReaderSize(r, readBufSize)
		u.flate = flate.NewReader(u.in)
	} else {
		u.in.Reset(r)
		u.flate.(flate.Resetter).Reset(u.in, nil)
	}
	return io.NopCloser(u.flate)
}

// unpackedTree is a tree unpack wrote: its directories, parents first,
// for making them read-only afterwards.
type unpackedTree struct {
	dirs []string
}

// unpack extracts the module zip zipfile into dir, which must be absent or
// empty, and returns the zip's h1 hash as dirhash.HashZip computes it.
//
// It is golang.org/x/mod/zip's Unzip and dirhash.HashZip in one pass: the
// zip must pass modzip.CheckZip (the module zip rules, which Unzip
// enforces), every file is inflated once, written with mode 0444 and
// hashed on the way, and its size must match the size the zip declares.
// The hash covers every entry of the zip, directory entries included, in
// the order and form of dirhash.Hash1, so it equals HashZip's. The zip's
// own error (an *InvalidError) blames the bytes; any other error is the
// disk's. On error, dir may hold part of the tree: the caller removes it.
func (u *unpacker) unpack(ctx context.Context, dir string, mod module.Version, zipfile string) (hash string, tree unpackedTree, err error) {
	invalid := func(err error) error { return &InvalidError{Mod: mod, Kind: Zip, Err: err} }
	cf, err := modzip.CheckZip(mod, zipfile)
	if err == nil {
		err = cf.Err()
	}
	if err != nil {
		return "", tree, invalid(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		return "", tree, fmt.Errorf("target directory %v exists and is not empty", dir)
	}
	f, err := os.Open(zipfile)
	if err != nil {
		return "", tree, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", tree, err
	}
	z, err := zip.NewReader(f, fi.Size())
	if err != nil {
		return "", tree, invalid(err)
	}
	z.RegisterDecompressor(zip.Deflate, u.inflate)

	prefix := mod.Path + "@" + mod.Version + "/"
	made := map[string]bool{}
	mkdir := func(d string) error {
		var missing []string
		for p := d; !made[p]; p = filepath.Dir(p) {
			missing = append(missing, p)
			if p == dir {
				break
			}
		}
		for i := len(missing) - 1; i >= 0; i-- {
			p := missing[i]
			if err := os.Mkdir(p, 0o777); err != nil && !(p == dir && errors.Is(err, fs.ErrExist)) {
				return err
			}
			made[p] = true
			tree.dirs = append(tree.dirs, p)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o777); err != nil {
		return "", tree, err
	}
	if err := mkdir(dir); err != nil {
		return "", tree, err
	}

	// HashZip hashes every entry under its full name, a name listed twice
	// (a directory) twice, each time from the last entry of that name;
	// CheckZip lets only directory entries repeat.
	var names []string
	sums := make(map[string][sha256.Size]byte, len(z.File))
	dirEntries := map[string]*zip.File{}
	for _, zf := range z.File {
		if err := ctx.Err(); err != nil {
			return "", tree, err
		}
		if strings.Contains(zf.Name, "\n") {
			return "", tree, invalid(errors.New("dirhash: filenames with newlines are not supported"))
		}
		names = append(names, zf.Name)
		name := zf.Name[len(prefix):] // CheckZip checked the prefix
		if name == "" || strings.HasSuffix(name, "/") {
			dirEntries[zf.Name] = zf
			continue
		}
		dst := filepath.Join(dir, name)
		if err := mkdir(filepath.Dir(dst)); err != nil {
			return "", tree, err
		}
		sum, err := u.writeFile(dst, mod, zf)
		if err != nil {
			return "", tree, err
		}
		sums[zf.Name] = sum
	}
	for name, zf := range dirEntries {
		// Unzip skips directory entries; HashZip reads them, and fails on
		// one that claims content.
		sum, err := hashEntry(zf)
		if err != nil {
			return "", tree, invalid(err)
		}
		sums[name] = sum
	}

	slices.Sort(names)
	h := sha256.New()
	for _, name := range names {
		sum := sums[name]
		fmt.Fprintf(h, "%x  %s\n", sum[:], name)
	}
	return "h1:" + base64.StdEncoding.EncodeToString(h.Sum(nil)), tree, nil
}

// writeFile writes zf's content to the new file dst, read-only as Unzip
// makes it, and returns its SHA-256. The content is read into the buffer
// as far as it fills, so that a file that fits is one write call. An
// error reading the entry is the zip's (an *InvalidError).
func (u *unpacker) writeFile(dst string, mod module.Version, zf *zip.File) (sum [sha256.Size]byte, err error) {
	invalid := func(err error) error { return &InvalidError{Mod: mod, Kind: Zip, Err: err} }
	r, err := zf.Open()
	if err != nil {
		return sum, invalid(err)
	}
	defer r.Close()
	w, err := createFile(dst, 0o444)
	if err != nil {
		return sum, err
	}
	defer func() {
		if cerr := w.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	h := sha256.New()
	var n uint64
	for {
		k, rerr := fill(r, u.buf)
		if k > 0 {
			n += uint64(k)
			if n > zf.UncompressedSize64 {
				return sum, invalid(fmt.Errorf("uncompressed size of file %s is larger than declared size (%d bytes)", zf.Name, zf.UncompressedSize64))
			}
			h.Write(u.buf[:k])
			if _, err := w.Write(u.buf[:k]); err != nil {
				return sum, err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return sum, invalid(fmt.Errorf("%s: %w", zf.Name, rerr))
		}
	}
	h.Sum(sum[:0])
	return sum, nil
}

// fill reads from r until buf is full or r fails; at the end of r, it
// returns io.EOF with what it read.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// hashEntry returns the SHA-256 of a zip entry's content, as HashZip reads it.
func hashEntry(zf *zip.File) (sum [sha256.Size]byte, err error) {
	r, err := zf.Open()
	if err != nil {
		return sum, err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return sum, err
	}
	h.Sum(sum[:0])
	return sum, nil
}

// makeReadOnly takes write permission off the tree's directories, children
// first, as modfetch.makeDirsReadOnly does, without walking the tree again;
// files keep the mode unpack gave them.
func (t unpackedTree) makeReadOnly() {
	for i := len(t.dirs) - 1; i >= 0; i-- {
		if fi, err := os.Lstat(t.dirs[i]); err == nil && fi.Mode()&0o222 != 0 {
			os.Chmod(t.dirs[i], fi.Mode()&^0o222)
		}
	}
}
