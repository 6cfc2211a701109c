//go:build unix

package doctor

import (
	"os"
	"syscall"
)

// diskSpace reports the free space of the file system holding path.
func diskSpace(path string) (DiskSpace, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return DiskSpace{}, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	bsize := uint64(st.Bsize)
	return DiskSpace{Free: uint64(st.Bavail) * bsize, Total: uint64(st.Blocks) * bsize}, nil
}

// writable reports whether this user may create files in dir.
func writable(dir string) error {
	const wOK = 2
	if err := syscall.Access(dir, wOK); err != nil {
		return &os.PathError{Op: "access", Path: dir, Err: err}
	}
	return nil
}
