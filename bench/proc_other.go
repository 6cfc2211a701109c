//go:build !unix

package main

import "os/exec"

// killGroup leaves c as it is: where there are no process groups,
// exec.CommandContext kills the process itself.
func killGroup(*exec.Cmd) {}

// syncDisks does nothing here.
func syncDisks() {}
