"""Messages to a prompt that fits: the model's chat template (``template``) and the
token budget (``budget``) that never cuts silently."""
