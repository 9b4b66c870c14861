"""The one greedy generator: batched, left-padded, prompts cut from the left to fit the context; every benchmark
and the sample generations of a run decode through it."""

from __future__ import annotations


def render(tokenizer, prompt: str | list[dict[str, str]], chat: bool = True) -> str:
    """The model's input: a user turn (or a whole conversation) in the model's chat template, or raw text to be
    continued."""
    if not chat:
        return (tokenizer.bos_token or "") + prompt
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def generate(model, tokenizer, texts: list[str], max_new_tokens: int, batch_size: int) -> list[str]:
    """Greedy continuations. Prompts longer than the model's context keep their end (where the request is)."""
    import torch

    device = next(model.parameters()).device
    limit = getattr(model.config, "max_position_embeddings", None) or tokenizer.model_max_length
    saved = tokenizer.padding_side, tokenizer.truncation_side
    tokenizer.padding_side = tokenizer.truncation_side = "left"  # decoder-only: pad and cut on the left
    replies = []
    try:
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(
                texts[start : start + batch_size],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=limit - max_new_tokens,
                add_special_tokens=False,
            ).to(device)
            with torch.no_grad():
                out = model.generate(
                    **enc,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    use_cache=True,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                )
            replies += tokenizer.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    finally:
        tokenizer.padding_side, tokenizer.truncation_side = saved
    return [reply.strip() for reply in replies]
