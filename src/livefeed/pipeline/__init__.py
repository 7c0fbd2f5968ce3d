"""Enrichment and the one writer: user agents, places, known networks, HTML cleaning, the spool
and the recorder that commits every hit."""
