"""The base model: tokenizer, weights (quantized or not), adapters, and tiny local stand-ins."""
