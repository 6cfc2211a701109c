package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// goTool runs one go command binary with a fixed environment.
type goTool struct {
	path string
	env  []string
}

// run runs the go command in dir and returns its stdout; the error carries
// its stderr.
func (g *goTool) run(dir string, args ...string) (string, error) {
	cmd := exec.Command(g.path, args...)
	cmd.Dir, cmd.Env = dir, g.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v\n%s", g.path, strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// setup is one way of running the scripts: plain go, or gomodx in front.
type setup struct {
	name string   // the table's column: plain, gomodx, gomodx-all
	env  []string // added to the test binary's environment
}

// outcome is what happened to one script in one setup.
type outcome struct {
	status string // PASS, FAIL, SKIP, or NONE when the test binary never said
	output string // the script engine's output
}

// testEvent is a line of 'go tool test2json' output.
type testEvent struct {
	Action string
	Test   string
	Output string
}

// runSetup runs the scripts once in setup s and returns each one's outcome.
// The test binary reports through test2json, so that each script's output
// can be told apart although they run in parallel. What the test binary
// said outside any script (a panic, a timeout) goes to logDir.
func runSetup(tool *goTool, g *goroot, s setup, scripts []string, o options, logDir string) (map[string]*outcome, error) {
	cmd := exec.Command(tool.path, "tool", "test2json", "-p", "cmd/go", g.testBin(),
		"-test.v=test2json",
		"-test.run="+testRunPattern(scripts),
		fmt.Sprintf("-test.parallel=%d", o.parallel),
		"-test.timeout="+o.timeout.String())
	cmd.Dir = g.cmdGo()
	cmd.Env = append(g.env(tool.env), s.env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}

	results := make(map[string]*outcome, len(scripts))
	logs := make(map[string]*strings.Builder)
	began := make(map[string]time.Time) // when a script stopped waiting for its turn
	var other strings.Builder           // output outside any script: a panic, a timeout
	var pass, fail, skip int
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var ev testEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			other.WriteString(sc.Text() + "\n")
			continue
		}
		name, ok := strings.CutPrefix(ev.Test, "TestScript/")
		if !ok {
			if ev.Action == "output" {
				other.WriteString(ev.Output)
			}
			continue
		}
		if logs[name] == nil {
			logs[name] = new(strings.Builder)
		}
		switch ev.Action {
		case "output":
			logs[name].WriteString(ev.Output)
			continue
		case "cont":
			began[name] = time.Now()
			continue
		case "pass":
			pass++
		case "fail":
			fail++
		case "skip":
			skip++
		default:
			continue
		}
		r := &outcome{status: strings.ToUpper(ev.Action), output: logs[name].String()}
		results[name] = r
		if r.status == "FAIL" {
			fmt.Printf("  %-10s FAIL %s (%s)\n", s.name, name, time.Since(began[name]).Round(time.Millisecond))
		}
		delete(logs, name)
		delete(began, name)
		if done := pass + fail + skip; done%25 == 0 || done == len(scripts) {
			fmt.Printf("  %-10s %d/%d done: %d pass, %d fail, %d skip, %s\n",
				s.name, done, len(scripts), pass, fail, skip, time.Since(start).Round(time.Second))
		}
	}
	waitErr := cmd.Wait()
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(results) == 0 && waitErr != nil {
		return nil, fmt.Errorf("running cmd/go's tests (%s): %v\n%s%s", s.name, waitErr, other.String(), stderr.String())
	}
	missing := 0
	for _, name := range scripts {
		if results[name] == nil {
			missing++
			var partial string
			if logs[name] != nil {
				partial = logs[name].String()
			}
			results[name] = &outcome{status: "NONE", output: partial}
		}
	}
	if missing > 0 {
		// The test binary died (a panic, -test.timeout): keep what it said.
		file := filepath.Join(logDir, "test-binary.log")
		if err := os.MkdirAll(logDir, 0o777); err != nil {
			return nil, err
		}
		if err := os.WriteFile(file, []byte(other.String()+stderr.String()), 0o666); err != nil {
			return nil, err
		}
		fmt.Printf("  %-10s %d scripts never finished; the test binary's output is in %s\n", s.name, missing, file)
	}
	fmt.Printf("  %-10s finished in %s\n", s.name, time.Since(start).Round(time.Second))
	return results, nil
}
