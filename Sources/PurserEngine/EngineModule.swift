// Placeholder; replaced as the engine lands.
