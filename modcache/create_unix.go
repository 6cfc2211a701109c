//go:build unix

package modcache

import (
	"io/fs"
	"os"
	"syscall"
)

// rawFile is a file written through bare system calls. os.OpenFile costs
// five more calls per file on Linux (it tries to register the file with
// the network poller, which refuses regular files), and a module tree is
// thousands of small files written once.
type rawFile struct {
	fd   int
	name string
}

// createFile creates the new file name (it must not exist) with mode perm,
// for writing, as os.OpenFile(name, O_WRONLY|O_CREATE|O_EXCL, perm) does.
func createFile(name string, perm fs.FileMode) (*rawFile, error) {
	for {
		fd, err := syscall.Open(name, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, uint32(perm.Perm()))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
		return &rawFile{fd: fd, name: name}, nil
	}
}

// Write writes all of p.
func (f *rawFile) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := syscall.Write(f.fd, p[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return n, &os.PathError{Op: "write", Path: f.name, Err: err}
		}
		if k == 0 {
			return n, &os.PathError{Op: "write", Path: f.name, Err: syscall.EIO}
		}
		n += k
	}
	return n, nil
}

// Close closes the file.
func (f *rawFile) Close() error {
	if err := syscall.Close(f.fd); err != nil {
		return &os.PathError{Op: "close", Path: f.name, Err: err}
	}
	return nil
}
