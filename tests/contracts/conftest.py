"""The contracts tests need no setup of their own: `cli` and `fake_endpoint` come from
tests/conftest.py. Kept so that every area folder has its conftest beside its tests."""
