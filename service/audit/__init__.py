"""Tamper-evident audit log (SPEC §8).

``chain`` is the pure core (hashing, canonical bodies, verification); ``signing`` wraps the
Ed25519 key; ``log`` appends inside the caller's write transaction; ``verify`` and ``export``
are what an auditor runs.
"""
