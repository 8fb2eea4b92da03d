"""fedsilo: cross-silo secure aggregation.

Institutions that may not pool their data train one model together; a
neutral aggregator learns only the sum of their protected updates.
"""

__version__ = "0.1.0"
