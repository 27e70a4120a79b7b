"""CoE drafting by an LLM and human review in Label Studio."""
