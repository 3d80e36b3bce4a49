"""What the API says about a training file before a job: the tokenization preview,
and where a job's tokenized data set can be downloaded."""

from __future__ import annotations

from datetime import datetime
from typing import List, Optional, Tuple

import attrs

from ._base import WireObject

#: The label of a token that does not train (masked out of the loss).
IGNORED_LABEL = -100


@attrs.frozen
class TokenizationPreviewRow(WireObject):
    """One sampled row of a training file, tokenized as a job would see it.

    :ivar tokens: the token strings, in order.
    :ivar input_ids: their token IDs.
    :ivar labels: one per token; :data:`IGNORED_LABEL` (``-100``) for tokens
        that do not train.
    :ivar trained_spans: half-open ``[start, end)`` token index ranges that train.
    :ivar num_tokens: tokens in the row (after truncation).
    :ivar num_trained_tokens: tokens that count towards the loss.
    :ivar truncated: whether the row was cut to the maximum sequence length.
    """

    tokens: List[str] = attrs.field(factory=list)
    input_ids: List[int] = attrs.field(factory=list)
    labels: List[int] = attrs.field(factory=list)
    trained_spans: List[List[int]] = attrs.field(factory=list)
    num_tokens: Optional[int] = None
    num_trained_tokens: Optional[int] = None
    truncated: Optional[bool] = None

    def trained_mask(self) -> Tuple[bool, ...]:
        """For each token, whether it trains (its label is not ``-100``)."""
        return tuple(label != IGNORED_LABEL for label in self.labels)


@attrs.frozen
class TokenizationPreview(WireObject):
    """How a training file will be tokenized (``POST /fine-tunes/preview``).

    :ivar dataset_format: ``"general"``, ``"conversation"`` or ``"instruction"``.
    :ivar rows: a sample of the file's rows.
    """

    model: Optional[str] = None
    dataset_format: Optional[str] = None
    max_seq_length: Optional[int] = None
    train_on_inputs: Optional[bool] = None
    rows: List[TokenizationPreviewRow] = attrs.field(factory=list)


def _url_repr(url: str) -> str:
    # The query string of a presigned URL is its signature: never shown.
    head, query, _ = url.partition("?")
    return repr(head + ("?..." if query else ""))


@attrs.frozen
class TokenizedDatasetLink(WireObject):
    """Where a job's tokenized data set can be fetched
    (``GET /fine-tunes/{id}/download-tokenized-dataset``).

    :ivar url: a presigned storage URL (valid until ``expires_at``; sent without
        the API key).
    :ivar filename: the archive's name as the server suggests it.
    :ivar size: the archive's size in bytes.
    """

    url: str = attrs.field(repr=_url_repr)
    filename: Optional[str] = None
    size: Optional[int] = None
    content_type: Optional[str] = None
    expires_at: Optional[datetime] = None
