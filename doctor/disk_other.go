//go:build !unix

package doctor

import (
	"errors"
	"os"
)

var errUnsupported = errors.New("not supported on this system")

// diskSpace is not implemented here: the check is skipped.
func diskSpace(string) (DiskSpace, error) { return DiskSpace{}, errUnsupported }

// writable tries to create and remove a file in dir.
func writable(dir string) error {
	f, err := os.CreateTemp(dir, ".gomodx-doctor-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}
