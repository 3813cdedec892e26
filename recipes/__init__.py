"""How the shipped artefacts are made: the generated training data behind the adapters
in ``minichat/adapters/``.

Not part of the installed package: a user runs ``minichat finetune``; these build
its shipped inputs, from the repository root, as each adapter's ``minichat.json``
records (``python -m recipes.tool_data tools800.jsonl --n 800 --seed 0``).
``tool_data`` (with ``tool_templates`` and ``tool_words``) writes tool-use
conversations; ``docs_data`` (with ``docs_pages`` and ``docs_words``) writes
grounded-answer conversations from made-up manuals.
"""
