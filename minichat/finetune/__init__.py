"""LoRA finetuning of local models: data, training, adapters."""
