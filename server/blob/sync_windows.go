package blob

// syncDir does nothing on Windows, where a folder cannot be opened for
// syncing; NTFS journals the rename itself.
func syncDir(string) error { return nil }
