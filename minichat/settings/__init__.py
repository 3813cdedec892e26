"""What the user sets, and where it is kept: the decoding parameters' table
(``params``), the layered settings that fill it (``layered``: defaults < config file <
environment < flags) and the user's directories (``paths``)."""
