"""Every data class of the library, as frozen attrs classes, grouped by subject in
the modules of this package and re-exported here.

The API's objects first (attribute names are the wire names), then the
library's own results (:class:`DownloadResult`, :class:`DatasetReport`). The
mapping from JSON lives in :mod:`together_finetune.converter` and nowhere else.
Decoding is forward compatible: unknown keys are kept in each object's
read-only ``extra`` mapping (:class:`WireObject`), every field except
an object's identity is optional, and enum values the library does not know
yet are kept as they came.
"""

from __future__ import annotations

from . import _cards  # noqa: F401  # pyright: ignore[reportUnusedImport] - gives the classes their cards
from ._base import NO_EXTRA, ReadOnlyDict, WireObject
from ._enums import FileProcessingStatus, FineTuneEventLevel, FineTuneEventType, FineTuneStatus
from .catalog import ModelLimits, PriceEstimate, TrainingLimits
from .files import FileDeleteResult, FileObject, ValidationReport
from .jobs import Checkpoint, DeleteResult, FineTune, FineTuneEvent, FineTuneProgress
from .listing import Listing
from .network import ResponseInfo
from .preview import (
    IGNORED_LABEL,
    TokenizationPreview,
    TokenizationPreviewRow,
    TokenizedDatasetLink,
)
from .requests import FineTuneRequest, PriceEstimateRequest
from .results import DatasetProblem, DatasetReport, DownloadResult
from .training import (
    DPO,
    SFT,
    BatchSize,
    CosineLRScheduler,
    FullTraining,
    LinearLRScheduler,
    LoRATraining,
    LRScheduler,
    MultimodalParams,
    TrainingMethod,
    TrainingType,
    UnknownLRScheduler,
    UnknownTrainingMethod,
    UnknownTrainingType,
)

__all__ = [
    "DPO",
    "IGNORED_LABEL",
    "NO_EXTRA",
    "SFT",
    "BatchSize",
    "Checkpoint",
    "CosineLRScheduler",
    "DatasetProblem",
    "DatasetReport",
    "DeleteResult",
    "DownloadResult",
    "FileDeleteResult",
    "FileObject",
    "FileProcessingStatus",
    "FineTune",
    "FineTuneEvent",
    "FineTuneEventLevel",
    "FineTuneEventType",
    "FineTuneProgress",
    "FineTuneRequest",
    "FineTuneStatus",
    "FullTraining",
    "LRScheduler",
    "LinearLRScheduler",
    "Listing",
    "LoRATraining",
    "ModelLimits",
    "MultimodalParams",
    "PriceEstimate",
    "PriceEstimateRequest",
    "ReadOnlyDict",
    "ResponseInfo",
    "TokenizationPreview",
    "TokenizationPreviewRow",
    "TokenizedDatasetLink",
    "TrainingLimits",
    "TrainingMethod",
    "TrainingType",
    "UnknownLRScheduler",
    "UnknownTrainingMethod",
    "UnknownTrainingType",
    "ValidationReport",
    "WireObject",
]
