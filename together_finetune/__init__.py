"""A synchronous Python client for Together AI's fine-tuning API.

::

    from together_finetune import Client

    with Client() as client:            # key from TOGETHER_API_KEY
        job = client.fine_tunes.create(training_file="file-...", model="...")
        job = client.fine_tunes.wait(job.id)
        client.fine_tunes.download(job.id)

Names are loaded on first use, so ``import together_finetune`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, List

from ._version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client
    from .dataset import check_dataset
    from .download import extract_archive
    from .errors import (
        APIConnectionError,
        APIResponseValidationError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ConflictError,
        DatasetError,
        DownloadError,
        FineTuneFailedError,
        InternalServerError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        TogetherError,
        UnprocessableEntityError,
        UploadError,
        WaitTimeoutError,
    )
    from .files import Files
    from .models import (
        DPO,
        SFT,
        Checkpoint,
        CosineLRScheduler,
        DatasetProblem,
        DatasetReport,
        DeleteResult,
        DownloadResult,
        FileDeleteResult,
        FileObject,
        FileProcessingStatus,
        FineTune,
        FineTuneEvent,
        FineTuneEventLevel,
        FineTuneEventType,
        FineTuneProgress,
        FineTuneRequest,
        FineTuneStatus,
        FullTraining,
        LinearLRScheduler,
        Listing,
        LoRATraining,
        ModelLimits,
        MultimodalParams,
        PriceEstimate,
        ResponseInfo,
        TokenizationPreview,
        TokenizationPreviewRow,
        TokenizedDatasetLink,
        TrainingLimits,
        UnknownLRScheduler,
        UnknownTrainingMethod,
        UnknownTrainingType,
        ValidationReport,
    )
    from .transport import RetryPolicy

_EXPORTS = {
    "Client": "client",
    "RetryPolicy": "transport",
    "extract_archive": "download",
    "check_dataset": "dataset",
    "Files": "files",
    **dict.fromkeys(
        (
            "APIConnectionError",
            "APIResponseValidationError",
            "APIStatusError",
            "APITimeoutError",
            "AuthenticationError",
            "BadRequestError",
            "ConflictError",
            "DatasetError",
            "DownloadError",
            "FineTuneFailedError",
            "InternalServerError",
            "NotFoundError",
            "PermissionDeniedError",
            "RateLimitError",
            "TogetherError",
            "UnprocessableEntityError",
            "UploadError",
            "WaitTimeoutError",
        ),
        "errors",
    ),
    **dict.fromkeys(
        (
            "DPO",
            "SFT",
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
            "LinearLRScheduler",
            "Listing",
            "LoRATraining",
            "ModelLimits",
            "MultimodalParams",
            "PriceEstimate",
            "ResponseInfo",
            "TokenizationPreview",
            "TokenizationPreviewRow",
            "TokenizedDatasetLink",
            "TrainingLimits",
            "UnknownLRScheduler",
            "UnknownTrainingMethod",
            "UnknownTrainingType",
            "ValidationReport",
        ),
        "models",
    ),
}

__all__ = [
    "DPO",
    "SFT",
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "Checkpoint",
    "Client",
    "ConflictError",
    "CosineLRScheduler",
    "DatasetError",
    "DatasetProblem",
    "DatasetReport",
    "DeleteResult",
    "DownloadError",
    "DownloadResult",
    "FileDeleteResult",
    "FileObject",
    "FileProcessingStatus",
    "Files",
    "FineTune",
    "FineTuneEvent",
    "FineTuneEventLevel",
    "FineTuneEventType",
    "FineTuneFailedError",
    "FineTuneProgress",
    "FineTuneRequest",
    "FineTuneStatus",
    "FullTraining",
    "InternalServerError",
    "LinearLRScheduler",
    "Listing",
    "LoRATraining",
    "ModelLimits",
    "MultimodalParams",
    "NotFoundError",
    "PermissionDeniedError",
    "PriceEstimate",
    "RateLimitError",
    "ResponseInfo",
    "RetryPolicy",
    "TogetherError",
    "TokenizationPreview",
    "TokenizationPreviewRow",
    "TokenizedDatasetLink",
    "TrainingLimits",
    "UnknownLRScheduler",
    "UnknownTrainingMethod",
    "UnknownTrainingType",
    "UnprocessableEntityError",
    "UploadError",
    "ValidationReport",
    "WaitTimeoutError",
    "__version__",
    "check_dataset",
    "extract_archive",
]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module_name}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(__all__)
