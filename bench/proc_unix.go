//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// killGroup makes c run in a process group of its own and, when its
// context is done, kills the whole group: gomodx's go child and anything
// else it started go with it, instead of holding the output open.
func killGroup(c *exec.Cmd) {
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
}

// syncDisks writes every dirty buffer of the machine back to disk.
func syncDisks() { syscall.Sync() }
