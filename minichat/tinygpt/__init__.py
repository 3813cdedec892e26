"""TinyGPT: minichat's own decoder-only Transformer, small enough to read in one sitting.

``model`` is the network (RMSNorm, rotary positions, grouped-query attention,
SwiGLU, tied embeddings) with a preallocated KV cache. It is Llama-shaped on
purpose: the same code runs the checkpoints we train and Llama-family models
such as the default SmolLM2, whose weights ``weights`` maps onto it.
"""
