"""Shared contracts of the Empathy-QA toolkit: data schemas, the CoE format, config and file helpers.

Stages (crawlers, curation, annotation, training) talk to each other only through files whose
layout is defined here.
"""
