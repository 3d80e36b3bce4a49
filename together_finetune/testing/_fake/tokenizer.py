"""A deterministic toy tokenizer, and the tokenization preview rows it gives a dataset.

Tokens are words and single punctuation marks (``\\w+|[^\\w\\s]``); a token's id is a
stable hash of its text, so the same sample always gives the same ids. Conversations are
rendered as ``<s>``, then per message ``<|role|>``, its content and ``<|end|>``.
Instructions are ``<s>`` prompt completion ``</s>``; general text is ``<s>`` text ``</s>``.
A token trains (its label is its id) unless it is ``<s>`` or belongs to an input: a
``system``/``user``/``tool`` message or a prompt, when ``train_on_inputs`` is false, or a
message with ``weight`` 0. Masked tokens have the label ``-100``.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from together_finetune.testing._fake.errors import JSON

__all__ = ["MASKED", "VOCAB_SIZE", "preview_row", "token_id", "tokenize"]

VOCAB_SIZE = 32000
#: the label of a token that does not train
MASKED = -100
_TOKEN = re.compile(r"\w+|[^\w\s]")
_SPECIAL = {"<s>": 1, "</s>": 2}


def tokenize(text: str) -> list[str]:
    """Split ``text`` into words and punctuation marks."""
    return _TOKEN.findall(text)


def token_id(token: str) -> int:
    """The stable id of ``token`` (``<s>`` is 1, ``</s>`` is 2)."""
    if token in _SPECIAL:
        return _SPECIAL[token]
    digest = hashlib.sha256(token.encode("utf-8")).digest()
    return 3 + int.from_bytes(digest[:4], "big") % (VOCAB_SIZE - 3)


def _content_text(message: JSON) -> str:
    content = message.get("content")
    parts: list[str] = []
    if isinstance(content, str):
        parts.append(content)
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and part.get("type") == "image_url":
                parts.append("<image>")
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
    if isinstance(message.get("reasoning"), str):
        parts.insert(0, message["reasoning"])
    if message.get("tool_calls"):
        parts.append(json.dumps(message["tool_calls"], sort_keys=True))
    return " ".join(parts)


def _segments(sample: JSON, kind: str, train_on_inputs: bool) -> list[tuple[list[str], bool]]:
    """(tokens, trained) pieces of one sample, in order."""
    pieces: list[tuple[list[str], bool]] = [(["<s>"], False)]
    if kind == "general":
        pieces.append(([*tokenize(str(sample.get("text", ""))), "</s>"], True))
    elif kind == "instruction":
        pieces.append((tokenize(str(sample.get("prompt", ""))), train_on_inputs))
        pieces.append(([*tokenize(str(sample.get("completion", ""))), "</s>"], True))
    else:
        for message in sample.get("messages", []):
            if not isinstance(message, dict):
                continue
            role = str(message.get("role", ""))
            trained = (role == "assistant" or train_on_inputs) and message.get("weight") != 0
            tokens = [f"<|{role}|>", *tokenize(_content_text(message)), "<|end|>"]
            pieces.append((tokens, trained))
    return pieces


def preview_row(sample: JSON, kind: str, train_on_inputs: bool, max_seq_length: int) -> JSON:
    """One row of ``POST /fine-tunes/preview`` for ``sample`` of dataset format ``kind``."""
    tokens: list[str] = []
    trained: list[bool] = []
    for piece, flag in _segments(sample, kind, train_on_inputs):
        tokens += piece
        trained += [flag] * len(piece)
    truncated = len(tokens) > max_seq_length
    tokens, trained = tokens[:max_seq_length], trained[:max_seq_length]
    ids = [token_id(token) for token in tokens]
    labels = [i if t else MASKED for i, t in zip(ids, trained)]
    spans: list[list[int]] = []
    for index, flag in enumerate(trained):
        if flag and spans and spans[-1][1] == index:
            spans[-1][1] = index + 1
        elif flag:
            spans.append([index, index + 1])
    row: dict[str, Any] = {
        "input_ids": ids,
        "labels": labels,
        "num_tokens": len(ids),
        "num_trained_tokens": sum(trained),
        "tokens": tokens,
        "trained_spans": spans,
        "truncated": truncated,
    }
    return row
