// Package osfile opens a file for a format parser that reads through an
// io.ReaderAt, closing the file again when parsing fails.
package osfile

import (
	"io"
	"os"
	"path/filepath"
)

// Open opens path and hands it to parse with its size and base name. On
// success the caller owns the returned closer.
func Open[T any](path string, parse func(r io.ReaderAt, size int64, name string) (T, error)) (T, io.Closer, error) {
	var zero T
	fh, err := os.Open(path)
	if err != nil {
		return zero, nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return zero, nil, err
	}
	v, err := parse(fh, st.Size(), filepath.Base(path))
	if err != nil {
		fh.Close()
		return zero, nil, err
	}
	return v, fh, nil
}
