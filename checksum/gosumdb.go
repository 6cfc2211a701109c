package checksum

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// knownGOSUMDB holds the verifier keys the go command has built in
// (cmd/go/internal/modfetch/key.go).
var knownGOSUMDB = map[string]string{
	"sum.golang.org": "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8",
}

// parseGOSUMDB parses a GOSUMDB other than "off" as cmd/go's dbDial does: a
// verifier key, or the name of a database whose key is built in, optionally
// followed by the URL to reach it at. It returns the database's name, its
// verifier key and that URL ("" if none).
func parseGOSUMDB(gosumdb string) (name, key, u string, err error) {
	// sum.golang.google.cn is an alias, reachable inside mainland China, for
	// sum.golang.org.
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
