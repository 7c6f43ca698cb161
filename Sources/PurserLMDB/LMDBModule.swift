// Placeholder; replaced by the LMDB wrapper.
