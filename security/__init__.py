"""Payload encryption: the keyring, the Temporal payload codec and its data converter."""
