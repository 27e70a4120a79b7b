"""Drafting: an LLM writes the Chain-of-Empathy for curated (question, answer) pairs (`python -m annotation draft|batch`)."""
