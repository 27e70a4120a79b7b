"""SFT, reward model, GRPO and evaluation on the Empathy-QA release (TRL)."""
