"""Hostile input: what a prompt-injected file, a misbehaving server or a careless user sends."""
