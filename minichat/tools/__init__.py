"""Tools a model may call, in one place: what a tool is (``spec``), how a model writes
a call (``hermes``: the Hermes format, in the prompt and in the reply), the grammar
that keeps a local model's calls valid (``grammar``), the ``Toolbox`` that checks a
call's arguments (``arguments``) and runs it with a time limit (``toolbox``), and
the tools themselves: the built-ins (``builtin``: a calculator, the date, files
under the working folder, opened safely by ``beneath``) and the user's own Python
functions (``functions``, run in a worker process by ``worker``)."""
