"""What loading a model takes, below the backends that use it: the device and dtype
choice (``device``), the GGUF conversion (``gguf``), LoRA adapters (``adapter``)
and when the compiled decode step is built and used (``compiled``). The choices a
user makes (``choices``) are checked here without importing torch. Which models
exist, and how each loads, is the model table's (``minichat.catalog``)."""
