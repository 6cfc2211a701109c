package modcache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/lockedfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/gomodx/gomodx/goenv"
)

// The checksum database's files, as cmd/go/internal/modfetch/sumdb.go
// keeps them:
//
//	$GOMODCACHE/cache/download/sumdb/<name>/lookup/<esc path>@<esc ver>   a lookup response: record + signed tree note
//	$GOMODCACHE/cache/download/sumdb/<name>/tile/<H>/<L>/<N>[.p/<W>]      tiles, W*32 bytes for hash tiles
//	$GOPATH/pkg/sumdb/<name>/latest                                        the latest signed tree note
//
// The go command treats an empty lookup or tile as absent (a reader can see
// a file lockedfile.Write has created but not yet filled), and an empty
// latest as "no tree seen yet".

// sumdbRoot returns the directory of the checksum databases' cache.
func (c *Cache) sumdbRoot() string {
	return filepath.Join(c.root, "cache", "download", "sumdb")
}

// sumdbScan says which checksum-database files verifySumdb checks.
type sumdbScan struct {
	mods     []module.Version // lookup records of these versions
	all      bool             // every lookup record, and not only those of mods
	tiles    bool             // every tile
	sumdbDir string           // latest tree notes under this directory, if not ""
	keys     []string         // verifier keys besides sum.golang.org's
}

// verifySumdb checks the checksum-database files that scan names.
func (c *Cache) verifySumdb(ctx context.Context, scan sumdbScan) []Fault {
	mods, all, sumdbDir := scan.mods, scan.all, scan.sumdbDir
	verifiers := sumdbVerifiers(scan.keys)
	var faults []Fault
	root := c.sumdbRoot()
	dbs, _ := os.ReadDir(root)
	for _, db := range dbs {
		if !db.IsDir() || ctx.Err() != nil {
			continue
		}
		dir := filepath.Join(root, db.Name())
		if all {
			lookup := filepath.Join(dir, "lookup")
			filepath.WalkDir(lookup, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return nil
				}
				rel, _ := filepath.Rel(lookup, path)
				mod, _ := lookupMod(filepath.ToSlash(rel))
				if cause := checkLookup(path, mod, verifiers); cause != "" {
					faults = append(faults, sumdbFault(mod, path, cause))
				}
				return ctx.Err()
			})
		} else {
			for _, mod := range mods {
				path, err := lookupPath(dir, mod)
				if err != nil {
					continue
				}
				if cause := checkLookup(path, mod, verifiers); cause != "" {
					faults = append(faults, sumdbFault(mod, path, cause))
				}
			}
		}
		if !scan.tiles {
			continue
		}
		// Tiles are shared by every module; a check is a stat.
		filepath.WalkDir(filepath.Join(dir, "tile"), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if cause := checkTile(dir, path); cause != "" {
				faults = append(faults, sumdbFault(module.Version{}, path, cause))
			}
			return ctx.Err()
		})
	}
	if sumdbDir != "" {
		names, _ := os.ReadDir(sumdbDir)
		for _, n := range names {
			latest := filepath.Join(sumdbDir, n.Name(), "latest")
			if cause := checkLatest(latest, verifiers); cause != "" {
				f := sumdbFault(module.Version{}, latest, cause)
				f.Fix = RemoveLatest
				faults = append(faults, f)
			}
		}
	}
	return faults
}

func sumdbFault(mod module.Version, path, cause string) Fault {
	return Fault{Mod: mod, Kind: SumdbCorrupt, Path: path, Cause: cause, Fix: RemoveSumdb}
}

func sumdbVerifiers(keys []string) note.Verifiers {
	var list []note.Verifier
	seen := map[string]bool{}
	// The key of sum.golang.org is always known, as it is to the go
	// command: with it a tree note's signature is checked too, not only
	// its shape. Each key counts once: the same key twice would make
	// every note signed with it "ambiguous".
	for _, k := range append([]string{goenv.SumGolangOrgKey}, keys...) {
		if seen[k] {
			continue
		}
		seen[k] = true
		if v, err := note.NewVerifier(k); err == nil {
			list = append(list, v)
		}
	}
	return note.VerifierList(list...)
}

// lookupPath returns the lookup file of mod in the database directory dir.
func lookupPath(dir string, mod module.Version) (string, error) {
	encPath, err := module.EscapePath(mod.Path)
	if err != nil {
		return "", err
	}
	encVer, err := module.EscapeVersion(mod.Version)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "lookup", filepath.FromSlash(encPath+"@"+encVer)), nil
}

// lookupMod returns the module version a lookup file's name (relative to
// lookup/, with slashes) stands for.
func lookupMod(rel string) (module.Version, error) {
	at := strings.LastIndex(rel, "@")
	if at < 0 {
		return module.Version{}, errors.New("no @ in lookup file name")
	}
	path, err := module.UnescapePath(rel[:at])
	if err != nil {
		return module.Version{}, err
	}
	vers, err := module.UnescapeVersion(rel[at+1:])
	if err != nil {
		return module.Version{}, err
	}
	return module.Version{Path: path, Version: vers}, nil
}

// checkLookup returns why the lookup file is corrupt, or "" when it is
// absent or parses: a record naming mod, then a well-formed signed tree
// note (checked against its signature when the database's key is known).
func checkLookup(file string, mod module.Version, verifiers note.Verifiers) string {
	data, err := lockedfile.Read(file)
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		return "cannot read lookup record: " + errText(err)
	}
	if len(data) == 0 {
		return "empty lookup record"
	}
	_, text, treeMsg, err := tlog.ParseRecord(data)
	if err != nil {
		return "malformed record data"
	}
	if mod.Path != "" {
		for line := range strings.Lines(string(text)) {
			f := strings.Fields(line)
			if len(f) != 3 || f[0] != mod.Path || (f[1] != mod.Version && f[1] != mod.Version+"/go.mod") {
				return fmt.Sprintf("malformed record data: record line %q is not for %s", strings.TrimSpace(line), mod)
			}
		}
	}
	return checkTreeNote(treeMsg, verifiers)
}

// causeBadSignature starts the cause of a tree note whose signature does
// not verify with a known key.
const causeBadSignature = "tree note signature does not verify: "

// checkTreeNote returns why msg is not a signed tree note, or "".
func checkTreeNote(msg []byte, verifiers note.Verifiers) string {
	n, err := note.Open(msg, verifiers)
	var unverified *note.UnverifiedNoteError
	var badSig *note.InvalidSignatureError
	switch {
	case errors.As(err, &unverified):
		n = unverified.Note // well formed, signed by a key we do not know
	case errors.As(err, &badSig):
		return causeBadSignature + err.Error()
	case err != nil:
		return "malformed tree note: " + err.Error()
	}
	if _, err := tlog.ParseTree([]byte(n.Text)); err != nil {
		return "malformed tree note: " + err.Error()
	}
	return ""
}

// checkTile returns why a tile file is corrupt, or "". dir is the
// database's directory, under which tiles are named tile/H/L/NNN[.p/W].
// A hash tile holds W hashes of 32 bytes; a data tile (L = "data") holds
// records of any size but is never empty.
func checkTile(dir, file string) string {
	rel, err := filepath.Rel(dir, file)
	if err != nil {
		return ""
	}
	t, err := tlog.ParseTilePath(filepath.ToSlash(rel))
	if err != nil {
		return "" // not a tile name: not ours to judge
	}
	fi, err := os.Stat(file)
	if err != nil {
		return "cannot read tile: " + errText(err)
	}
	switch {
	case fi.Size() == 0:
		return "empty tile"
	case t.L >= 0 && fi.Size() != int64(t.W)*tlog.HashSize:
		return fmt.Sprintf("tile has %d bytes, want %d (%d hashes)", fi.Size(), int64(t.W)*tlog.HashSize, t.W)
	}
	return ""
}

// checkLatest returns why a latest tree note is corrupt, or "" when it is
// absent, empty (no tree seen yet) or a signed tree note.
func checkLatest(file string, verifiers note.Verifiers) string {
	data, err := lockedfile.Read(file)
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		return "cannot read latest tree note: " + errText(err)
	}
	if len(data) == 0 {
		return ""
	}
	return checkTreeNote(data, verifiers)
}
