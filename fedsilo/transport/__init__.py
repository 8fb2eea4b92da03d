"""gRPC + mutual TLS transport: a thin adapter around the sans-I/O protocol core.

Only protobuf crosses the wire (no pickle, no class loading). Every peer is
identified by its certificate (URI SAN *and* pinned fingerprint), read on
every call; the aggregator signs what it sends, silos sign what they relay.
"""
