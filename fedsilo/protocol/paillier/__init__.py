"""Threshold Paillier aggregation: its config section and rules (sessions: issue 12)."""
