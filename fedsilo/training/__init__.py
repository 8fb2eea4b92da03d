"""Tasks: what a silo trains and what the federation's vector is.

A config names a task; the name is looked up in the ``fedsilo.tasks``
entry-point group, never imported from a path written in the config.
"""
