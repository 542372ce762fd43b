"""Authentication: bearer-token verification and dev-key minting, wrapping python-jose."""

from service.domain.caller import Caller, Role
from service.security.tokens import (
    REASONS,
    TokenRejected,
    TokenVerifier,
    generate_dev_keypair,
    mint_token,
    public_key_from_private,
)

__all__ = [
    "REASONS",
    "Caller",
    "Role",
    "TokenRejected",
    "TokenVerifier",
    "generate_dev_keypair",
    "mint_token",
    "public_key_from_private",
]
