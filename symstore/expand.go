package symstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bugcheck/bugcheck/cab"
)

// parseImageKey splits an ImageKey into timestamp and size.
func parseImageKey(key string) (timestamp, size uint32, ok bool) {
	if len(key) < 9 || len(key) > 16 {
		return 0, 0, false
	}
	ts, err1 := strconv.ParseUint(key[:8], 16, 32)
	sz, err2 := strconv.ParseUint(key[8:], 16, 32)
	return uint32(ts), uint32(sz), err1 == nil && err2 == nil
}

// isCabinet reports whether the file at path starts with a cabinet
// signature.
func isCabinet(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var sig [4]byte
	n, err := io.ReadFull(f, sig[:])
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return false, err
	}
	return string(sig[:n]) == "MSCF", nil
}

// install puts the file name/key held in src (a plain copy or a cabinet)
// at dst, through a temporary file that is checked to be the right build
// before it takes dst's name. A file that fails the check is deleted and
// never reaches dst.
func install(k kind, src, dst, name, key string) error {
	compressed, err := isCabinet(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".expand-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if compressed {
		err = expand(tmp, src, name)
	} else {
		err = copyFile(tmp, src)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = verify(k, tmp.Name(), key)
	}
	if err != nil {
		return fmt.Errorf("rejected: %v", err)
	}
	return os.Rename(tmp.Name(), dst)
}

// expand writes the file called name (or the cabinet's only file) from the
// cabinet at src to w.
func expand(w io.Writer, src, name string) error {
	r, err := cab.Open(src)
	if err != nil {
		return err
	}
	defer r.Close()
	f := r.File(name)
	if f == nil && len(r.Files()) == 1 {
		f = r.Files()[0]
	}
	if f == nil {
		return fmt.Errorf("the cabinet holds no %s", name)
	}
	_, err = r.ExtractTo(w, f)
	return err
}

func copyFile(w io.Writer, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// parsePointer reads a file.ptr: "PATH:<file>" names where the file is,
// "MSG:<text>" says why it is not available.
func parsePointer(b []byte) (string, error) {
	s := strings.TrimSpace(string(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))))
	switch {
	case strings.HasPrefix(strings.ToUpper(s), "PATH:"):
		p := strings.TrimSpace(s[len("PATH:"):])
		if p == "" {
			return "", errors.New("file.ptr names an empty PATH")
		}
		return p, nil
	case strings.HasPrefix(strings.ToUpper(s), "MSG:"):
		return "", fmt.Errorf("not available: %s", strings.TrimSpace(s[len("MSG:"):]))
	}
	return "", fmt.Errorf("file.ptr is neither PATH: nor MSG: (%.40q)", s)
}

// readPointer reads a local file.ptr and returns the file it points to.
func readPointer(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPointer))
	if err != nil {
		return "", err
	}
	target, err := parsePointer(b)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(target)
	if err != nil {
		return "", fmt.Errorf("file.ptr target: %v", err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("file.ptr target %s is not a file", target)
	}
	return target, nil
}

// maxPointer bounds what is read of a file.ptr.
const maxPointer = 4096
