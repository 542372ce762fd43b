"""Use cases: gather from ports, decide with the pure core, persist and audit."""
