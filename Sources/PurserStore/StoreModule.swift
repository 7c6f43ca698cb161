// Placeholder; replaced as the store lands.
