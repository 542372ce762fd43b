"""Clients of the upstream HTTP services (SPEC §9): typed values in, typed values out."""
