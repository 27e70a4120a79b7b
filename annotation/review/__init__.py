"""Review in Label Studio: push drafts, annotators verify them, pull the verified records (`python -m annotation review`)."""
