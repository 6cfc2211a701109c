//go:build !unix

package modcache

import (
	"io/fs"
	"os"
)

// createFile creates the new file name (it must not exist) with mode perm,
// for writing.
func createFile(name string, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
}
