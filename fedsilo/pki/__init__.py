"""The federation PKI: CA, requests, issuance, inspection, revocation, validation.

Every institution generates its own private key and a certificate signing
request locally; only the request leaves. Certificates name their holder
with the URI SAN ``fedsilo://<federation>/<name>`` and are pinned in the
federation config by their SHA-256 fingerprint. Time is always an argument
(``now``), never read from a clock here.
"""
