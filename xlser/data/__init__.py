"""Data: the manifest contract, audio I/O, the synthetic world and the real-corpus loaders."""
