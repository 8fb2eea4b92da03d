"""The only home of loops, deadlines, retries, clocks, processes and state directories.

It composes the sans-I/O protocol sessions with the gRPC transport into the
two long-running nodes: the aggregator service and the silo node.
"""
