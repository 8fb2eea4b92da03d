"""The sans-I/O protocol core: pure state machines, messages in, messages out.

Nothing here opens a socket, reads a clock, logs, or touches a file. Keys,
entropy, the roster and the unmask ledger are injected; adapters in
``fedsilo.transport`` and ``fedsilo.runtime`` drive the same sessions that
the in-memory harness in ``fedsilo.testing`` drives.
"""
