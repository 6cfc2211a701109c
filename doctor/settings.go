package doctor

import (
	"cmp"
	"fmt"
	"go/version"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/gomodx/gomodx/goenv"
	"github.com/gomodx/gomodx/prefetch"
)

// project is what the checks need from the main module or workspace.
type project struct {
	*prefetch.Project
	goVersion, toolchain string // the main module's go and toolchain lines
}

// load reads the project and parses GOPROXY.
func (d *run) load() {
	d.proxies, d.proxyErr = d.env.Proxy.Entries, d.env.Proxy.Err
	p, err := prefetch.Load(d.env.GOMOD, d.env.GOWORK, d.env.Flags.ModFile)
	if err != nil {
		d.projErr = err
		return
	}
	if p == nil {
		return
	}
	d.proj = &project{Project: p}
	file := d.env.GOMOD
	if d.env.GOWORK != "" && d.env.GOWORK != "off" {
		file = d.env.GOWORK
	}
	if data, err := d.opts.ReadFile(file); err == nil {
		if f, err := modfile.ParseLax(file, data, nil); err == nil {
			if f.Go != nil {
				d.proj.goVersion = f.Go.Version
			}
			// ParseLax skips the toolchain line, as a dependency's
			// would not count; the main module's does.
			if f, err := modfile.Parse(file, data, nil); err == nil && f.Toolchain != nil {
				d.proj.toolchain = f.Toolchain.Name
			}
		} else if wf, err := modfile.ParseWork(file, data, nil); err == nil {
			if wf.Go != nil {
				d.proj.goVersion = wf.Go.Version
			}
			if wf.Toolchain != nil {
				d.proj.toolchain = wf.Toolchain.Name
			}
		}
	}
}

// fromOSEnv reports whether a go setting comes from the process
// environment, where 'go env -w' cannot override it.
func (d *run) fromOSEnv(key string) bool { return d.opts.Getenv(key) != "" }

// setCmd is the command that sets a go setting: 'go env -w K=V', or an
// export when the process environment sets it (go env -w would not win).
func (d *run) setCmd(key, value string) string {
	if d.fromOSEnv(key) {
		return fmt.Sprintf("export %s=%s (it is set in the environment, which 'go env -w' does not override)", key, value)
	}
	return fmt.Sprintf("go env -w %s=%s", key, value)
}

// toolchain checks the go command itself and the settings that switch
// modules off or change how they are fetched.
func (d *run) toolchain() {
	e := d.env
	if d.opts.GoErr != nil {
		d.add(AreaToolchain, "go version", Fail, "cannot run 'go env': "+d.opts.GoErr.Error(), "install Go from https://go.dev/dl, or set GOMODX_GO to the go binary")
		return
	}
	d.goVersion()

	switch strings.ToLower(e.GO111MODULE) {
	case "off":
		d.add(AreaToolchain, "GO111MODULE", Fail, "off: modules are disabled ('go: modules disabled by GO111MODULE=off')", d.unsetCmd("GO111MODULE"))
	case "auto":
		d.add(AreaToolchain, "GO111MODULE", OK, "auto: modules are on inside a module, off in GOPATH/src without go.mod", "")
	case "", "on":
		d.add(AreaToolchain, "GO111MODULE", OK, cmp.Or(e.GO111MODULE, "unset")+": modules are on", "")
	default:
		d.add(AreaToolchain, "GO111MODULE", Warn, fmt.Sprintf("%q is not on, off or auto", e.GO111MODULE), d.unsetCmd("GO111MODULE"))
	}

	var notes []string
	status, fix := OK, ""
	for _, fl := range e.Flags.List {
		f, name, val := fl.Raw, fl.Name, fl.Value
		switch {
		case name == "mod" && val == "vendor":
			status = Warn
			notes = append(notes, "-mod=vendor: packages come from vendor/ and nothing is downloaded; run 'go mod vendor' after changing go.mod")
			fix = "remove -mod=vendor from GOFLAGS (" + d.setCmd("GOFLAGS", strings.TrimSpace(strings.ReplaceAll(" "+e.GOFLAGS+" ", " "+f+" ", " "))) + ")"
		case name == "insecure":
			status = Warn
			notes = append(notes, "-insecure has no effect since go 1.17")
			fix = "remove -insecure from GOFLAGS and name the hosts in GOINSECURE instead"
		case name == "mod" && val == "mod", name == "modcacherw", name == "mod" && val == "readonly":
			notes = append(notes, f)
		}
	}
	if e.GOFLAGS != "" || len(notes) > 0 {
		detail := cmp.Or(strings.Join(notes, "; "), e.GOFLAGS)
		d.add(AreaToolchain, "GOFLAGS", status, detail, fix)
	}
}

// goVersion reports the local go command and the toolchain it switches to
// in the project, if any: where go will find it, or that gomodx fetches it
// first. The local go's GOVERSION is the one doctor read, with
// GOTOOLCHAIN=local; nothing is switched to or downloaded to find this out.
func (d *run) goVersion() {
	e, tc := d.env, d.opts.Toolchain
	local := e.GOVERSION
	if d.opts.GoPath != "" {
		local += " (" + d.opts.GoPath + ")"
	}
	need := "" // the project's go line: the oldest go that may run it
	if d.proj != nil {
		need = d.proj.goVersion
	}
	gotoolchain := cmp.Or(e.GOTOOLCHAIN, "auto")
	switches := ""
	if tc.Name != "" {
		why := tc.Why
		if !strings.HasPrefix(why, "GOTOOLCHAIN=") {
			why += ", GOTOOLCHAIN=" + gotoolchain
		}
		switches = fmt.Sprintf("%s; go switches to %s for this project (%s)", local, tc.Name, why)
	}
	runs := cmp.Or(tc.Name, e.GOVERSION)
	switch {
	case tc.Err != nil:
		d.add(AreaToolchain, "go version", Fail, fmt.Sprintf("%s, but go refuses to start here: %v", local, tc.Err),
			"correct the setting or the line it names (GOTOOLCHAIN takes auto, local, path, or a toolchain such as go1.27.4, with +auto or +path)")
	case goOlder(runs, need) && tc.Name == "" && gotoolchain == "local":
		d.add(AreaToolchain, "go version", Fail, fmt.Sprintf("%s, but the project needs go %s and GOTOOLCHAIN=local forbids switching", local, need),
			fmt.Sprintf("install go %s, or %s", need, d.setCmd("GOTOOLCHAIN", "auto")))
	case goOlder(runs, need) && tc.Name == "":
		why := "GOTOOLCHAIN=" + gotoolchain
		if d.proj.toolchain == "default" {
			why = "its toolchain line says default"
		}
		d.add(AreaToolchain, "go version", Fail, fmt.Sprintf("%s, but the project needs go %s and go does not switch to it (%s)", local, need, why),
			fmt.Sprintf("install go %s, or %s", need, d.setCmd("GOTOOLCHAIN", "auto")))
	case goOlder(runs, need):
		d.add(AreaToolchain, "go version", Fail, fmt.Sprintf("%s, but the project needs go %s", switches, need),
			d.setCmd("GOTOOLCHAIN", "auto"))
	case tc.Name == "":
		d.add(AreaToolchain, "go version", OK, local, "")
	case tc.PathOnly && tc.InPath == "":
		d.add(AreaToolchain, "go version", Fail, fmt.Sprintf("%s, but go looks for it only in PATH, and it is not there", switches),
			fmt.Sprintf("install %s in PATH (go install golang.org/dl/%s@latest && %s download), or %s", tc.Name, tc.Name, tc.Name, d.setCmd("GOTOOLCHAIN", "auto")))
	case tc.InPath == "" && !tc.Cached && d.proxyOff():
		d.add(AreaToolchain, "go version", Fail, fmt.Sprintf("%s, which go downloads through GOPROXY, but GOPROXY=off", switches),
			"install "+tc.Name+", or allow GOPROXY")
	case tc.Fetch:
		d.add(AreaToolchain, "go version", OK, switches+", not in the module cache yet: gomodx fetches it through the mirrors on the next 'gomodx download', 'gomodx tidy' or 'gomodx go'", "")
	default:
		d.add(AreaToolchain, "go version", OK, switches+"; gomodx does not fetch it: "+tc.Leave, "")
	}
}

// goOlder reports whether the toolchain (such as "go1.26.8", or
// "go1.26.8 X:boringcrypto") is older than the go line need ("1.27.4",
// "1.27"); false when either does not parse (a development build).
func goOlder(toolchain, need string) bool {
	toolchain, _, _ = strings.Cut(toolchain, " ")
	need = "go" + need
	if !version.IsValid(toolchain) || !version.IsValid(need) {
		return false
	}
	return version.Compare(toolchain, need) < 0
}

func (d *run) unsetCmd(key string) string {
	if d.fromOSEnv(key) {
		return "unset " + key + " in the environment"
	}
	return "go env -u " + key
}

// mirrors returns the http(s) mirrors of GOPROXY, in order.
func (d *run) mirrors() []string {
	var list []string
	for _, p := range d.proxies {
		if strings.HasPrefix(p.URL, "http://") || strings.HasPrefix(p.URL, "https://") {
			list = append(list, p.URL)
		}
	}
	return list
}

func (d *run) proxyOff() bool {
	return d.proxyErr == nil && len(d.proxies) > 0 && d.proxies[0].URL == goenv.Off
}

// goproxy explains GOPROXY.
func (d *run) goproxy() {
	if d.proxyErr != nil {
		d.add(AreaProxy, "GOPROXY", Fail, d.proxyErr.Error(), d.setCmd("GOPROXY", "https://proxy.golang.org,direct"))
		return
	}
	first := d.proxies[0].URL
	switch {
	case first == goenv.Off:
		d.add(AreaProxy, "GOPROXY", Fail, "off: the go command downloads nothing; only what is already in the module cache can be used ('module lookup disabled by GOPROXY=off')",
			d.setCmd("GOPROXY", "https://proxy.golang.org,direct"))
		return
	case first == goenv.Direct:
		d.add(AreaProxy, "GOPROXY", Warn, "direct: every module is fetched from its own repository with git (or hg, svn): slow, needs each host reachable and git installed, and nothing is cached by a mirror",
			d.setCmd("GOPROXY", "https://proxy.golang.org,direct")+" (or a mirror near you first, e.g. https://goproxy.cn|https://proxy.golang.org,direct)")
		return
	}
	var steps []string
	for i, p := range d.proxies {
		s := p.Redacted()
		if i > 0 {
			if d.proxies[i-1].FallBackOnError {
				s = "then " + s + " after any error"
			} else {
				s = "then " + s + " only after 404 or 410"
			}
		}
		steps = append(steps, s)
	}
	detail := strings.Join(steps, ", ")
	if last := d.proxies[len(d.proxies)-1]; !last.Keyword() {
		detail += "; nothing after that (a module no mirror has cannot be fetched)"
	}
	d.add(AreaProxy, "GOPROXY", OK, detail, "")
}

// publicHosts are code hosts and vanity domains whose modules are public.
// A requirement on another host looks private.
var publicHosts = []string{
	"github.com", "gitlab.com", "bitbucket.org", "gitee.com", "codeberg.org", "sr.ht", "git.sr.ht",
	"golang.org", "google.golang.org", "cloud.google.com", "go.googlesource.com",
	"gopkg.in", "k8s.io", "sigs.k8s.io", "go.uber.org", "go.opentelemetry.io", "go.etcd.io",
	"go.mongodb.org", "gotest.tools", "honnef.co", "mvdan.cc", "rsc.io", "gorm.io", "gocloud.dev",
	"dario.cat", "filippo.io", "modernc.org", "lukechampine.com", "go.starlark.net", "gvisor.dev",
	"buf.build", "connectrpc.com", "go.yaml.in", "golang.zx2c4.com", "howett.net", "nhooyr.io",
	"tailscale.com", "go4.org", "cel.dev", "cuelang.org", "cuelabs.dev", "go.temporal.io",
	"go.elastic.co", "go.mozilla.org", "go.step.sm", "storj.io", "zombiezen.com", "pgregory.net",
	"software.sslmate.com", "gonum.org", "go.bug.st", "git.apache.org", "helm.sh", "oras.land",
	"istio.io", "knative.dev", "tags.cncf.io", "go.podman.io", "github.io",
}

// publicHost reports whether host is a public code host.
func publicHost(host string) bool {
	for _, h := range publicHosts {
		if host == h || strings.HasSuffix(host, "."+h) {
			return true
		}
	}
	return false
}

// privatePattern is the GOPRIVATE pattern to suggest for path: the host,
// or for a shared code host the organization ("github.com/acme").
func privatePattern(path string) string {
	elems := strings.Split(path, "/")
	if publicHost(elems[0]) && len(elems) > 1 {
		return elems[0] + "/" + elems[1]
	}
	return elems[0]
}

// requirements lists the module paths the project requires (not its own,
// not replaced by directories), sorted.
func (d *run) requirements() []string {
	if d.proj == nil {
		return nil
	}
	seen := map[string]bool{}
	var paths []string
	for _, m := range d.proj.Roots {
		if d.proj.Mains[m.Path] || seen[m.Path] {
			continue
		}
		if r, ok := d.proj.Replace[m]; ok && r.Version == "" {
			continue
		}
		if r, ok := d.proj.Replace[module.Version{Path: m.Path}]; ok && r.Version == "" {
			continue
		}
		seen[m.Path] = true
		paths = append(paths, m.Path)
	}
	slices.Sort(paths)
	return paths
}

// firstMirror is the mirror go asks first, if GOPROXY starts with one.
func (d *run) firstMirror() string {
	if d.proxyErr != nil || len(d.proxies) == 0 {
		return ""
	}
	u := d.proxies[0].URL
	if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
		return u
	}
	return ""
}

// private checks the requirements that look private: each must be
// covered by GONOPROXY (GOPRIVATE), or its path goes to the mirrors, and
// by GONOSUMDB (GOPRIVATE), or its checksum is asked of the public
// checksum database, which cannot know it.
func (d *run) private() {
	if d.projErr != nil {
		d.add(AreaPrivate, "go.mod", Warn, "cannot read the project: "+d.projErr.Error(), "fix go.mod or go.sum ('go mod tidy' says what is wrong)")
		return
	}
	reqs := d.requirements()
	if d.proj == nil {
		d.add(AreaPrivate, "requirements", OK, "not in a module: nothing to check", "")
		return
	}
	var leaks, covered, public []string
	for _, path := range reqs {
		ans, asked := d.onMirror[path]
		host := strings.Split(path, "/")[0]
		looksPrivate := !publicHost(host)
		var sentTo []string
		sentTo = append(sentTo, ans.asked...)
		notFound := fmt.Sprintf("no mirror has it (%d)", ans.status)
		if len(sentTo) == 1 {
			notFound = fmt.Sprintf("%s does not have it (%d)", sentTo[0], ans.status)
		}
		switch {
		case d.env.Private(path):
			covered = append(covered, path)
			if !d.env.NoSumCheck(path) {
				d.add(AreaPrivate, path, Fail,
					"GONOPROXY keeps it away from the mirrors, but GONOSUMDB does not cover it: go asks "+d.sumdbName()+" for its checksum, which cannot know a private module ('verifying module: ... 404 Not Found'), and sends it the path",
					d.setCmd("GONOSUMDB", appendPattern(d.env.GONOSUMDB, privatePattern(path)))+", or use GOPRIVATE, which sets both")
			}
		case asked && ans.found:
			public = append(public, path)
		case asked && ans.status != 0 && looksPrivate:
			leaks = append(leaks, path)
			d.add(AreaPrivate, path, Fail,
				fmt.Sprintf("looks private: %s, and GOPRIVATE does not cover it, so go sends its path to %s%s", notFound, words(sentTo), d.sumdbLeak(path)),
				"")
		case asked && ans.status != 0:
			leaks = append(leaks, path)
			d.add(AreaPrivate, path, Warn,
				fmt.Sprintf("%s: if it is private, GOPRIVATE must cover it, or go keeps sending its path to %s%s", notFound, words(sentTo), d.sumdbLeak(path)),
				"")
		case looksPrivate && d.firstMirror() != "":
			leaks = append(leaks, path)
			why := "not checked on the mirrors"
			if asked && ans.err != nil {
				why = "could not ask: " + ans.err.Error()
			}
			if len(sentTo) == 0 {
				sentTo = []string{goenv.Redact(d.firstMirror())}
			}
			d.add(AreaPrivate, path, Warn,
				fmt.Sprintf("looks private (%s is not a public code host; %s) but GOPRIVATE does not cover it: go sends its path to %s%s", host, why, words(sentTo), d.sumdbLeak(path)),
				"")
		default:
			public = append(public, path)
		}
	}
	if len(leaks) > 0 {
		var pats []string
		for _, p := range leaks {
			if pat := privatePattern(p); !slices.Contains(pats, pat) {
				pats = append(pats, pat)
			}
		}
		newValue := d.env.GOPRIVATE
		for _, p := range pats {
			newValue = appendPattern(newValue, p)
		}
		fix := d.setCmd("GOPRIVATE", newValue)
		for i := range d.report.Checks {
			c := &d.report.Checks[i]
			if c.Area == AreaPrivate && slices.Contains(leaks, c.Name) && c.Fix == "" {
				c.Fix = fix
			}
		}
		if !d.fromOSEnv("GOPRIVATE") {
			d.report.GoEnvFixes = append(d.report.GoEnvFixes, []string{"env", "-w", "GOPRIVATE=" + newValue})
		}
	}
	switch {
	case len(reqs) == 0:
		d.add(AreaPrivate, "requirements", OK, "none", "")
	case len(leaks) == 0:
		detail := fmt.Sprintf("%d public module paths in go.mod, fetched through GOPROXY", len(public))
		if len(covered) > 0 {
			detail += fmt.Sprintf("; %d private, covered by GOPRIVATE/GONOPROXY and fetched directly (%s)", len(covered), words(covered))
		}
		d.add(AreaPrivate, "requirements", OK, detail, "")
	}
	d.sumdbSettings()
	if d.env.GOINSECURE != "" {
		d.add(AreaPrivate, "GOINSECURE", Warn, d.env.GOINSECURE+": modules matching it are fetched over plain HTTP or with unverified certificates", "prefer fixing the servers' certificates; keep GOINSECURE as narrow as possible")
	}
}

// sumdbLeak says, for a sentence about a private path, that go also asks
// the checksum database about it, when it does.
func (d *run) sumdbLeak(path string) string {
	if d.env.NoSumCheck(path) {
		return ""
	}
	return " and asks " + d.sumdbName() + " for its checksum, which cannot know it"
}

// appendPattern adds pat to a comma-separated pattern list.
func appendPattern(list, pat string) string {
	if list == "" {
		return pat
	}
	if slices.Contains(strings.Split(list, ","), pat) {
		return list
	}
	return list + "," + pat
}

// sumdbSettings explains GOSUMDB=off and GONOSUMDB.
func (d *run) sumdbSettings() {
	switch {
	case d.env.SumDB.Off:
		d.add(AreaPrivate, "GOSUMDB", Warn, "off: modules not yet in go.sum are accepted without checking them against the checksum database",
			d.unsetCmd("GOSUMDB")+", and exempt private modules with GOPRIVATE or GONOSUMDB instead")
	case d.env.GONOSUMDB != "":
		status, fix := OK, ""
		for _, p := range strings.Split(d.env.GONOSUMDB, ",") {
			if p = strings.TrimSpace(p); p == "*" || publicHost(p) || !strings.Contains(p, ".") && p != "" {
				status, fix = Warn, "name only private hosts or paths in GONOSUMDB, e.g. git.example.com or github.com/acme"
			}
		}
		d.add(AreaPrivate, "GONOSUMDB", status, d.env.GONOSUMDB+": modules matching it are not checked against the checksum database", fix)
	}
}
