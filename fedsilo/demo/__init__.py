"""`fedsilo demo`: a whole federation on this machine, in one command."""
