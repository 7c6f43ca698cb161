// Placeholder; replaced by the SQLite wrapper.
