"""Cryptographic recipes over `cryptography`, `phe` and `gmpy2`.

The modules here are the only place (besides `fedsilo.pki`, for x509) that
touches primitives directly. Everything else calls these recipes.
"""
