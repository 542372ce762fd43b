"""HTTP shell: translates requests to use cases and results to responses."""
