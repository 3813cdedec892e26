"""The decoding engine shared by every local backend.

It knows token ids, not messages: ``decode`` runs prefill and then one token at
a time over a ``TokenModel`` with a KV cache; ``prefix`` keeps the part of that
cache a new prompt shares with the last one; ``sampling`` picks each token;
``detok`` turns ids into text without broken characters; ``stops`` ends the
reply before a stop string is ever printed. Importing this package does not
import torch: the echo backend uses ``stops`` alone.
"""
