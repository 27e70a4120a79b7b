"""Evaluation: generate answers, score them (metrics, LLM judge), human ranking (`python -m training.evaluate`)."""
