"""Federation configs: YAML in, a typed and frozen `FederationConfig` out.

The config is data: no Python import paths, tasks named through the
``fedsilo.tasks`` entry-point group. Its canonical digest (SHA-256 over the
RFC 8785 JSON of the normalized document) is what institutions endorse and
what every node compares before a round.
"""
