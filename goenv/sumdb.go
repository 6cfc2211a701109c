package goenv

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// SumGolangOrgKey is the verifier key of sum.golang.org, which the go
// command has built in (cmd/go/internal/modfetch/key.go).
const SumGolangOrgKey = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"

// knownGOSUMDB maps the names of the databases whose keys the go command
// knows to those keys.
var knownGOSUMDB = map[string]string{
	"sum.golang.org": SumGolangOrgKey,
}

// SumDB is GOSUMDB, decoded.
type SumDB struct {
	Off  bool   // GOSUMDB=off: nothing is checked against a database
	Name string // the database's name, such as "sum.golang.org" (also for sum.golang.google.cn)
	Key  string // its verifier key
	// URL is where GOSUMDB says to reach the database, bypassing the
	// proxies ("https://sum.golang.google.cn" for sum.golang.google.cn), or
	// "": then through the proxies' /sumdb/<name>/, else https://<name>.
	URL string
	Err error // why GOSUMDB does not parse; the fields above are then empty
}

// ParseSumDB parses GOSUMDB as cmd/go's dbDial does: "off", a verifier
// key, or the name of a database whose key is built in, optionally followed
// by the URL to reach it at; sum.golang.google.cn is an alias for
// sum.golang.org reached at https://sum.golang.google.cn.
func ParseSumDB(gosumdb string) SumDB {
	if gosumdb == "off" {
		return SumDB{Off: true}
	}
	name, key, u, err := parseSumDB(gosumdb)
	return SumDB{Name: name, Key: key, URL: u, Err: err}
}

func parseSumDB(gosumdb string) (name, key, u string, err error) {
	if gosumdb == "sum.golang.google.cn" {
		gosumdb = "sum.golang.org https://sum.golang.google.cn"
	}
	fields := strings.Fields(gosumdb)
	if len(fields) >= 1 {
		if k := knownGOSUMDB[fields[0]]; k != "" {
			fields[0] = k
		}
	}
	if len(fields) == 0 {
		return "", "", "", errors.New("missing GOSUMDB")
	}
	if len(fields) > 2 {
		return "", "", "", errors.New("invalid GOSUMDB: too many fields")
	}
	verifier, err := note.NewVerifier(fields[0])
	if err != nil {
		return "", "", "", fmt.Errorf("invalid GOSUMDB: %v", err)
	}
	name = verifier.Name()

	// No funny business in the database name: it becomes a URL path and a
	// directory name.
	direct, err := url.Parse("https://" + name)
	if err != nil || strings.HasSuffix(name, "/") || *direct != (url.URL{Scheme: "https", Host: direct.Host, Path: direct.Path, RawPath: direct.RawPath}) || direct.RawPath != "" || direct.Host == "" {
		return "", "", "", fmt.Errorf("invalid sumdb name (must be host[/path]): %s", name)
	}

	if len(fields) == 2 {
		if _, err := url.Parse(fields[1]); err != nil {
			return "", "", "", fmt.Errorf("invalid GOSUMDB URL: %v", err)
		}
		u = fields[1]
	}
	return name, fields[0], u, nil
}

// DirectURL is where the go command reaches the database when no proxy
// serves it: URL if GOSUMDB gives one, else https://<Name>.
func (s SumDB) DirectURL() string {
	if s.URL != "" {
		return strings.TrimSuffix(s.URL, "/")
	}
	if s.Name == "" {
		return ""
	}
	return "https://" + s.Name
}

// SumdbDir is $GOPATH/pkg/sumdb, where the go command keeps each checksum
// database's latest signed tree head: under the first element of GOPATH,
// as cmd/go/internal/cfg.gopathDir has it. The error says why there is
// none (GOPATH unset or relative); the go command reports it only when it
// needs the file, and so should the caller.
func (c *Config) SumdbDir() (string, error) {
	list := filepath.SplitList(c.GOPATH)
	switch {
	case len(list) == 0 || list[0] == "":
		return "", errors.New("GOPATH is not set")
	case !filepath.IsAbs(list[0]):
		return "", fmt.Errorf("GOPATH entry is relative: %s", list[0])
	}
	return filepath.Join(list[0], "pkg", "sumdb"), nil
}
