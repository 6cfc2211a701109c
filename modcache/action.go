package modcache

// Action is what Repair does about a fault: a value code can compare, with
// the words a person reads before it is done ([Action.String], as in 'gomodx
// clean --dry-run') and after ([Action.Done]).
type Action int

const (
	// ReportOnly: nothing is removed; a file cannot be read, which is a
	// matter of the cache's owner and permissions, not of its content.
	ReportOnly     Action = iota
	RemoveInfo            // the .info
	RemoveMod             // the .mod
	RewriteZiphash        // the zip is good: its hash is written to the .ziphash
	RemoveZip             // the .zip, .ziphash, extracted dir and .partial: go fetches the zip again
	RemoveDir             // the extracted dir, which go extracts again from the zip
	RemoveTree            // the extracted dir, with nothing to check it against
	RemovePartial         // a leftover .partial marker
	RemovePartDir         // the extracted dir of an interrupted extraction, and its .partial
	RemoveTemp            // a leftover temp file
	RemoveSumdb           // a checksum-database cache file: go fetches it again
	RemoveLatest          // a checksum database's latest tree note
)

var actionWords = [...]struct{ plan, done string }{
	ReportOnly:     {"none: check the owner and permissions of the cache", "none: check the owner and permissions of the cache"},
	RemoveInfo:     {"remove .info", "removed .info"},
	RemoveMod:      {"remove .mod", "removed .mod"},
	RewriteZiphash: {"rewrite .ziphash from the zip", "rewrote .ziphash from the zip"},
	RemoveZip:      {"remove .zip, .ziphash and extracted dir", "removed .zip, .ziphash and extracted dir"},
	RemoveDir:      {"remove extracted dir (go extracts it again)", "removed extracted dir (go extracts it again)"},
	RemoveTree:     {"remove extracted dir", "removed extracted dir"},
	RemovePartial:  {"remove .partial", "removed .partial"},
	RemovePartDir:  {"remove extracted dir and .partial", "removed extracted dir and .partial"},
	RemoveTemp:     {"remove temp file", "removed temp file"},
	RemoveSumdb:    {"remove it (go fetches it again)", "removed it (go fetches it again)"},
	RemoveLatest:   {"remove latest (go then trusts the next tree it is shown, as on first use)", "removed latest (go then trusts the next tree it is shown, as on first use)"},
}

// String says what Repair will do: "remove .zip, .ziphash and extracted dir".
func (a Action) String() string {
	if a < 0 || int(a) >= len(actionWords) {
		return "unknown action"
	}
	return actionWords[a].plan
}

// Done says what Repair did: "removed .zip, .ziphash and extracted dir".
func (a Action) Done() string {
	if a < 0 || int(a) >= len(actionWords) {
		return "unknown action"
	}
	return actionWords[a].done
}

// MarshalText writes the action as String does, for the JSON of verify
// and clean.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }
