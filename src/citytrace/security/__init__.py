"""Encryption at rest: the keyring, where its keys come from, and key rotation."""
