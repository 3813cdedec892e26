"""Tools a model may call: built-in ones (a calculator, the date, files under the
working folder, the chat's documents), each a ``ToolFunction``: its schema for the
model and the Python that runs it."""
