"""Spiders: `yixinli` (the professional QA platform) and `douban` (group topics)."""
