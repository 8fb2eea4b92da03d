"""Audit tools: tell, from a config, its certificates and (later) round
transcripts alone, whether a federation is configured and ran as promised."""
