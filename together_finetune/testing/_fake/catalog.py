"""The model catalog sub-app: supported models, their limits, and price estimates; and
who the caller is (``GET /v3/whoami``, which the official CLI asks before every command)."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request

from together_finetune.testing._fake.errors import JSON, bad_request
from together_finetune.testing._fake.exchanges import RecordedRequest
from together_finetune.testing._fake.routes import Routes, json_object

__all__ = ["MAX_SEQ_LENGTH_SFT", "SUPPORTED_MODELS", "WHOAMI_PATH", "Catalog", "is_int"]

#: The identity endpoint lives outside ``/v1``.
WHOAMI_PATH = "/v3/whoami"
#: The fake's caller: a project API key, as the official SDK's ``WhoamiProjectAPIKey``.
WHOAMI: JSON = {
    "type": "project_api_key",
    "api_key": {"id": "key_fake"},
    "organization": {"id": "org_fake", "name": "Fake organization"},
    "project": {"id": "proj_fake", "name": "Fake project", "slug": "fake-project"},
}

SUPPORTED_MODELS: dict[str, JSON] = {
    "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference": {"full": True, "max_batch": 96},
    "meta-llama/Meta-Llama-3.1-70B-Instruct-Reference": {"full": False, "max_batch": 32},
    "meta-llama/Llama-3.2-3B-Instruct": {"full": True, "max_batch": 128},
    "Qwen/Qwen2.5-7B-Instruct": {"full": True, "max_batch": 96},
    "Qwen/Qwen2.5-72B-Instruct": {"full": False, "max_batch": 16},
    "mistralai/Mistral-7B-Instruct-v0.2": {"full": True, "max_batch": 96},
}
#: the longest SFT sequence of every model of the fake
MAX_SEQ_LENGTH_SFT = 8192
_TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "up_proj", "down_proj", "gate_proj"]


def is_int(value: Any) -> bool:
    """An integer and not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


class Catalog(Routes):
    """Supported models (``GET``), their limits (``GET``) and price estimates (``POST``)."""

    def rules(self) -> list[Rule]:
        """The catalog's rules."""
        return [
            Rule("/v1/fine-tunes/estimate-price", methods=["POST"], endpoint="estimate"),
            Rule("/v1/fine-tunes/models/supported", methods=["GET"], endpoint="supported"),
            Rule("/v1/fine-tunes/models/limits", methods=["GET"], endpoint="limits"),
            Rule(WHOAMI_PATH, methods=["GET"], endpoint="whoami"),
        ]

    def _route_whoami(self, request: Request, recorded: RecordedRequest) -> tuple[int, Any]:
        return 200, WHOAMI

    def _route_supported(self, request: Request, recorded: RecordedRequest) -> tuple[int, Any]:
        return 200, {"models": list(SUPPORTED_MODELS)}

    def _route_limits(self, request: Request, recorded: RecordedRequest) -> tuple[int, Any]:
        name = request.args.get("model_name")
        if not name:
            raise bad_request("model_name is required", "model_name")
        info = SUPPORTED_MODELS.get(name)
        if info is None:
            return 404, {"message": f"Model not found or not supported for fine-tuning: {name}"}
        max_batch = int(info["max_batch"])
        dpo_batch = max(8, max_batch // 2 // 8 * 8)
        limits: JSON = {
            "model_name": name,
            "lora_training": {
                "max_batch_size": max_batch,
                "max_batch_size_dpo": dpo_batch,
                "min_batch_size": 8,
                "max_rank": 64,
                "default_rank": 16,  # not in the spec, but the official SDK reads it
                "target_modules": list(_TARGET_MODULES),
            },
            "max_num_epochs": 20,
            "max_num_evals": 100,
            "max_num_checkpoints": 20,
            "max_seq_length_sft": MAX_SEQ_LENGTH_SFT,
            "max_seq_length_dpo": 4096,
            "min_max_seq_length": 512,
            "default_gradient_accumulation_steps": 1,
            "supports_full_training": bool(info["full"]),
            "max_learning_rate": 1.0,
            "min_learning_rate": 1e-8,
            "supports_vision": False,
            "supports_tools": True,
            "supports_reasoning": False,
            "merge_output_lora": True,
        }
        if info["full"]:
            limits["full_training"] = {
                "max_batch_size": max_batch,
                "max_batch_size_dpo": dpo_batch,
                "min_batch_size": 8,
            }
        return 200, limits

    def _route_estimate(self, request: Request, recorded: RecordedRequest) -> tuple[int, Any]:
        body = json_object(recorded)
        training_file = body.get("training_file")
        if not isinstance(training_file, str) or not training_file:
            raise bad_request("training_file is required", "training_file")
        for name in ("n_epochs", "n_evals"):
            if name in body and not is_int(body[name]):
                raise bad_request(f"{name} must be an integer", name)
        if training_file.startswith("file-unvalidated"):
            return 200, {
                "estimation_available": False,
                "unavailable_reason": "train_file_not_validated",
            }
        validation_file = body.get("validation_file")
        if isinstance(validation_file, str) and validation_file.startswith("file-unvalidated"):
            return 200, {
                "estimation_available": False,
                "unavailable_reason": "eval_file_not_validated",
            }
        n_epochs = body.get("n_epochs") or 1
        n_evals = body.get("n_evals") or 0
        train_tokens = 250000 * n_epochs
        eval_tokens = 25000 * n_evals if validation_file else 0
        return 200, {
            "estimation_available": True,
            "estimated_total_price": round((train_tokens + eval_tokens) * 0.000004, 6),
            "allowed_to_proceed": True,
            "user_limit": 1000.0,
            "estimated_train_token_count": train_tokens,
            "estimated_eval_token_count": eval_tokens,
        }
