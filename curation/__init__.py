"""Curation: raw threads in, curated threads out (normalise, PII, filters, dedup, risk, topics)."""
