"""Loading machinery: model names to backends (``registry``), the device and dtype
choice, the GGUF conversion and the compiled decode step's builder. The choices a
user makes (``choices``) are checked here without importing torch."""
