"""``client.fine_tunes``: fine-tuning jobs and everything hanging off them."""

from __future__ import annotations

import functools
import os
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Generator,
    List,
    Literal,
    Mapping,
    Optional,
    Union,
    cast,
)

from ._catalog import Catalog
from ._checks import check_flag, check_seconds
from ._job_metrics import JobMetrics
from ._polling import Poller
from ._resource import JOB_ID_PREFIX, check_job_id, job_path

if TYPE_CHECKING:  # pragma: no cover
    from ._passthrough import Extras
from ._tokenization import Tokenization
from ._transfer.progress import ProgressCallback
from .converter import encode
from .errors import NotFoundError
from .models import (
    BatchSize,
    Checkpoint,
    DeleteResult,
    DownloadResult,
    FineTune,
    FineTuneEvent,
    FineTuneRequest,
    Listing,
    LRScheduler,
    MultimodalParams,
    TrainingMethod,
    TrainingType,
)
from .transport import Timeout, Transport, normalize_timeout
from .validation import (
    apply_model_defaults,
    build_create_request,
    ensure_within_limits,
    needs_model_limits,
)

__all__ = ["JOB_ID_PREFIX", "FineTunes", "check_job_id"]

_MAYBE_CREATED = (
    "The job may have been created: check client.fine_tunes.list() before trying again."
)


class FineTunes(Tokenization, JobMetrics, Catalog):
    """Fine-tuning jobs: ``client.fine_tunes``.

    The tokenization endpoints (:meth:`preview`, :meth:`download_tokenized_dataset`)
    come from :class:`~together_finetune._tokenization.Tokenization`, the metrics from
    :class:`~together_finetune._job_metrics.JobMetrics`, the price and the models'
    limits from :class:`~together_finetune._catalog.Catalog`.

    Every method that sends a request also takes ``extra_headers=`` and
    ``extra_query=``, and those whose request has a JSON body ``extra_body=``: sent as
    given, merged last into each request to the API (a key replaces the field or
    parameter of the same name), for what this version does not type yet.
    ``extra_headers`` cannot set ``Authorization``.
    """

    def __init__(self, transport: Transport, *, clock: Callable[[], float]) -> None:
        super().__init__(transport)
        self._clock = clock

    # -- jobs ----------------------------------------------------------------------------

    def create(
        self,
        *,
        training_file: str,
        model: Optional[str] = None,
        validation_file: Optional[str] = None,
        n_epochs: Optional[int] = None,
        n_checkpoints: Optional[int] = None,
        n_evals: Optional[int] = None,
        batch_size: Optional[BatchSize] = None,
        learning_rate: Optional[float] = None,
        lr_scheduler: Optional[LRScheduler] = None,
        warmup_ratio: Optional[float] = None,
        max_grad_norm: Optional[float] = None,
        weight_decay: Optional[float] = None,
        random_seed: Optional[int] = None,
        suffix: Optional[str] = None,
        packing: Optional[bool] = None,
        max_seq_length: Optional[int] = None,
        gradient_accumulation_steps: Optional[int] = None,
        early_stopping_enabled: Optional[bool] = None,
        early_stopping_patience: Optional[int] = None,
        early_stopping_min_delta: Optional[float] = None,
        early_stopping_warmup_evals: Optional[int] = None,
        training_type: Optional[TrainingType] = None,
        training_method: Optional[TrainingMethod] = None,
        train_on_inputs: Optional[Union[bool, Literal["auto"]]] = None,
        dpo_beta: Optional[float] = None,
        rpo_alpha: Optional[float] = None,
        simpo_gamma: Optional[float] = None,
        dpo_normalize_logratios_by_length: Optional[bool] = None,
        dpo_reference_free: Optional[bool] = None,
        multimodal_params: Optional[MultimodalParams] = None,
        from_checkpoint: Optional[str] = None,
        from_hf_model: Optional[str] = None,
        hf_model_revision: Optional[str] = None,
        hf_api_token: Optional[str] = None,
        hf_output_repo_name: Optional[str] = None,
        wandb_api_key: Optional[str] = None,
        wandb_base_url: Optional[str] = None,
        wandb_project_name: Optional[str] = None,
        wandb_name: Optional[str] = None,
        wandb_entity: Optional[str] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        check_limits: bool = False,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> FineTune:
        """Start a fine-tuning job (``POST /fine-tunes``).

        Arguments left as ``None`` are not sent, so the server's defaults apply.
        Every argument is checked before anything is sent; all problems are
        reported in one ``ValueError``. The request is sent once: it is retried
        only when the server certainly did not act (connection refused, 429, 503),
        never blindly, so a flaky network cannot start two jobs.

        :param training_file: ID of an uploaded training file (``file-...``).
        :param model: base model name; omit it when continuing ``from_checkpoint``.
        :param gradient_accumulation_steps: steps per optimizer update (0: the model's default).
        :param early_stopping_enabled: needs a ``validation_file`` and ``n_evals >=
            patience (default 2) + warmup_evals (default 1) + 1``; only then the other
            ``early_stopping_*`` options.
        :param training_type: :class:`FullTraining` or :class:`LoRATraining` (server
            default: LoRA). ``LoRATraining()`` gets the model's default rank (limits).
        :param multimodal_params: ``train_vision=True`` only for a model with vision.
        :param training_method: :class:`SFT` or :class:`DPO`.
        :param train_on_inputs: shorthand for ``training_method=SFT(train_on_inputs=...)``
            (only with SFT or no ``training_method``).
        :param dpo_beta: with ``rpo_alpha``, ``simpo_gamma``,
            ``dpo_normalize_logratios_by_length`` and ``dpo_reference_free``: set on
            ``training_method=DPO(...)``; only valid together with it. With
            ``simpo_gamma > 0`` (SimPO) the two DPO flags are sent as True, as the
            official SDK sends them; either given as False is a ``ValueError``.
        :param lr_scheduler: :class:`LinearLRScheduler` or :class:`CosineLRScheduler`.
        :param batch_size: an int, or ``"max"``.
        :param wandb_api_key: Weights & Biases key (sent as ``wandb_key``; never logged).
        :param hf_api_token: Hugging Face token (never logged).
        :param check_limits: also fetch the model's limits (once per model per client)
            and check the arguments against them before sending (skipped when
            continuing ``from_checkpoint`` without a ``model``).
        :param extra_body: fields this version does not type yet, merged last into the
            body (a key replaces the field of the same name); sent as given.
        :param extra_headers: headers added to each request (not ``Authorization``).
        :param extra_query: query parameters added to each request.
        :returns: the created job.
        :raises ValueError: an argument is invalid (nothing was sent).
        """
        # The parameters are FineTuneRequest's fields and the shorthands, nothing else
        # (tests/cli/test_cli_create_fields.py keeps them in step): pass them on by name.
        arguments = dict(locals())
        for name in ("self", "check_limits", "timeout", "extra_headers", "extra_query"):
            del arguments[name]
        extras = self._extras(extra_headers, extra_query)
        request = self.build_request(
            check_limits=check_limits,
            timeout=timeout,
            extra_headers=extras.headers,
            extra_query=extras.query,
            **arguments,
        )
        return self.create_from_request(
            request, timeout=timeout, extra_headers=extras.headers, extra_query=extras.query
        )

    def build_request(
        self,
        *,
        check_limits: bool = False,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
        **arguments: Any,
    ) -> FineTuneRequest:
        """The checked :class:`FineTuneRequest` that ``create(**arguments)`` sends.

        Reads the model's limits (once per model per client) when the body depends on
        them (``LoRATraining()`` without a rank, ``train_vision=True``) or to check them.
        An ``extra_body`` argument is kept on the request, so ``encode(request)`` is
        the merged body ``create`` sends.
        """
        check_flag(check_limits, "check_limits")
        if timeout is not None:
            normalize_timeout(timeout)
        extras = self._extras(extra_headers, extra_query, arguments.get("extra_body"))
        if extras.body is not None:
            arguments["extra_body"] = extras.body
        request = build_create_request(**arguments)
        limits = None
        if request.model is not None and (check_limits or needs_model_limits(request)):
            limits = self._cached_limits(request.model, timeout, extras)
        request = apply_model_defaults(request, limits)
        if check_limits and limits is not None:
            ensure_within_limits(request, limits)
        return request

    def create_from_request(
        self,
        request: FineTuneRequest,
        *,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
    ) -> FineTune:
        """Send an already built and checked :class:`FineTuneRequest`.

        ``extra_body`` is merged over the request's body (its own ``extra_body`` included).
        """
        extras = self._extras(extra_headers, extra_query, extra_body)
        return cast(
            "FineTune",
            self._call(
                "POST",
                "/fine-tunes",
                FineTune,
                extras=extras,
                json_body=encode(request),
                idempotent=False,
                uncertain_hint=_MAYBE_CREATED,
                timeout=timeout,
            ),
        )

    def list(
        self,
        *,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> Listing[FineTune]:
        """All fine-tuning jobs of the account (``GET /fine-tunes``)."""
        extras = self._extras(extra_headers, extra_query)
        found = self._get("/fine-tunes", List[FineTune], key="data", extras=extras, timeout=timeout)
        return Listing(found)

    def retrieve(
        self,
        id: str,
        *,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> FineTune:
        """One job with all its fields (``GET /fine-tunes/{id}``)."""
        extras = self._extras(extra_headers, extra_query)
        return cast("FineTune", self._get(job_path(id), FineTune, extras=extras, timeout=timeout))

    def cancel(
        self,
        id: str,
        *,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> FineTune:
        """Ask the API to stop a job (``POST /fine-tunes/{id}/cancel``); safe to repeat."""
        extras = self._extras(extra_headers, extra_query)
        path = job_path(id, "/cancel")
        return cast(
            "FineTune",
            self._call("POST", path, FineTune, extras=extras, idempotent=True, timeout=timeout),
        )

    def delete(
        self,
        id: str,
        *,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> DeleteResult:
        """Delete a job and its outputs (``DELETE /fine-tunes/{id}``).

        Deleting is retried like any idempotent request. When a retry answers 404,
        an earlier attempt may have deleted the job before its answer was lost: the
        :class:`NotFoundError` says so (and ``attempts`` is above 1).

        :raises NotFoundError: there is no job with this ID (any more).
        """
        extras = self._extras(extra_headers, extra_query)
        try:
            return cast(
                "DeleteResult",
                self._call("DELETE", job_path(id), DeleteResult, extras=extras, timeout=timeout),
            )
        except NotFoundError as exc:
            if exc.attempts is None or exc.attempts <= 1:
                raise
            raise NotFoundError(
                f"{exc.message}; an earlier attempt may already have deleted it",
                status_code=exc.status_code,
                body=exc.body,
                response=exc.response,
                request_id=exc.request_id,
                attempts=exc.attempts,
            ) from exc

    def list_events(
        self,
        id: str,
        *,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> Listing[FineTuneEvent]:
        """A job's event log, oldest first (``GET /fine-tunes/{id}/events``)."""
        extras = self._extras(extra_headers, extra_query)
        path = job_path(id, "/events")
        found = self._get(path, List[FineTuneEvent], key="data", extras=extras, timeout=timeout)
        return Listing(found)

    def list_checkpoints(
        self,
        id: str,
        *,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> Listing[Checkpoint]:
        """The checkpoints a job saved (``GET /fine-tunes/{id}/checkpoints``)."""
        extras = self._extras(extra_headers, extra_query)
        path = job_path(id, "/checkpoints")
        found = self._get(path, List[Checkpoint], key="data", extras=extras, timeout=timeout)
        return Listing(found)

    # -- waiting --------------------------------------------------------------------------

    def wait(
        self,
        id: str,
        *,
        poll_interval: float = 5.0,
        timeout: Optional[float] = None,
        on_event: Optional[Callable[[FineTuneEvent], None]] = None,
        raise_on_failure: bool = False,
        on_update: Optional[Callable[[FineTune], None]] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> FineTune:
        """Poll until the job reaches a terminal status and return it.

        Terminal statuses are ``completed``, ``error``, ``user_error`` and
        ``cancelled`` (:attr:`FineTuneStatus.is_terminal`).

        :param poll_interval: seconds between polls.
        :param timeout: seconds to wait in all; then :class:`WaitTimeoutError`
            (its ``.job`` is the last job seen). ``None`` waits for ever.
        :param on_event: called once per new event, in order, including the
            events of the final transition (events are read after the job).
        :param raise_on_failure: raise :class:`FineTuneFailedError` when the job
            ends as ``error``, ``user_error`` or ``cancelled``; its message is the
            last error event's.
        :param on_update: called with the job after each poll (after that poll's
            events), for a live status display.

        Transient errors while polling are retried by the transport and do not
        end the wait; an error that outlasts the retries is raised. ``extra_headers``
        and ``extra_query`` go with every poll.
        """
        return self._poller(self._extras(extra_headers, extra_query)).wait(
            id,
            poll_interval=poll_interval,
            timeout=timeout,
            on_event=on_event,
            raise_on_failure=raise_on_failure,
            on_update=on_update,
        )

    def follow_events(
        self,
        id: str,
        *,
        poll_interval: float = 5.0,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> Generator[FineTuneEvent, None, None]:
        """Yield each event of the job once, in order, until the job is terminal.

        The arguments are checked at once (not at the first ``next``); the
        iterator ends after the events of the final transition.
        """
        extras = self._extras(extra_headers, extra_query)
        return self._poller(extras).follow(id, poll_interval=poll_interval)

    def _poller(self, extras: Extras) -> Poller:
        headers, query = extras.headers, extras.query
        return Poller(
            functools.partial(self.retrieve, extra_headers=headers, extra_query=query),
            functools.partial(self.list_events, extra_headers=headers, extra_query=query),
            self._transport.sleep,
            self._clock,
        )

    # -- downloads ------------------------------------------------------------------------

    def download(
        self,
        id: str,
        *,
        checkpoint: Optional[Literal["merged", "adapter", "model_output_path"]] = None,
        checkpoint_step: Optional[int] = None,
        output: Union[str, os.PathLike[str], None] = None,
        overwrite: bool = False,
        extract: bool = False,
        keep_archive: bool = False,
        progress: Union[bool, ProgressCallback, None] = None,
        timeout: Optional[Timeout] = None,
        lock_timeout: float = 300.0,
        connections: Optional[int] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> DownloadResult:
        """Download a job's model (or one checkpoint) to disk.

        Streams to ``<target>.part`` beside the target, resumes after a dropped
        connection (``Range``), verifies size (and checksum when the server sends
        one), computes the sha256 on the way, and renames into place only when
        complete. A later call after an interruption resumes from the ``.part``.

        :param checkpoint: ``"merged"`` or ``"adapter"`` for LoRA jobs,
            ``"model_output_path"`` for full training; by default ``merged`` for
            LoRA and ``model_output_path`` for full jobs.
        :param checkpoint_step: an intermediate checkpoint's step.
        :param output: where it goes. A path ending in ``/``, an existing
            directory, or ``None`` (the current directory): inside that directory,
            under a name made from the job. Any other path: the archive's file, or
            with ``extract`` the directory that receives the model files (the
            archive is downloaded beside it). Missing parent directories are created.
        :param overwrite: replace an existing file (or extracted directory) at the target.
        :param extract: unpack the archive; the archive is then removed once the
            extraction succeeded, unless ``keep_archive``.
        :param keep_archive: with ``extract``, keep the archive beside the directory
            (``DownloadResult.archive``).
        :param progress: ``True`` for a progress bar on stderr (needs the
            ``progress`` extra), or a callback ``(bytes_done, total)``.
        :param lock_timeout: seconds to wait while another download (thread or process)
            writes the same target; then the file it finished is returned (without
            ``overwrite``, when its size and sha256 match) or :class:`DownloadError` raised.
        :param connections: ranged connections fetching the file at once (1 to 32);
            by default 4 for a file of 64 MiB or more whose server answers ``Range``
            requests, else 1.
        :param extra_headers: headers added to each request to the API (not to storage).
        :param extra_query: query parameters added likewise.
        :raises DownloadError: the download could not be completed.
        """
        # The engine loads requests: imported on first use, like the transport does.
        from ._transfer.model import (
            check_download_options,
            download_model,
            needs_job,
            plan_model_download,
            resolve_output,
        )
        from ._transfer.progress import check_progress
        from ._transfer.segments import check_connections

        job_id = check_job_id(id)
        extras = self._extras(extra_headers, extra_query)
        check_download_options(checkpoint, checkpoint_step)
        check_connections(connections)
        check_progress(progress)
        check_seconds(lock_timeout, "lock_timeout")
        check_flag(overwrite, "overwrite")
        check_flag(extract, "extract")
        check_flag(keep_archive, "keep_archive")
        if timeout is not None:
            normalize_timeout(timeout)
        where = resolve_output(output, overwrite=overwrite, extract=extract)
        job = None
        if needs_job(checkpoint, where):
            job = self.retrieve(
                job_id, timeout=timeout, extra_headers=extras.headers, extra_query=extras.query
            )
        plan = plan_model_download(
            job_id,
            job,
            checkpoint=checkpoint,
            checkpoint_step=checkpoint_step,
            output=where,
            extract=extract,
        )
        return download_model(
            self._sender(extras),
            plan,
            overwrite=overwrite,
            keep_archive=keep_archive,
            progress=progress,
            timeout=timeout,
            lock_timeout=lock_timeout,
            connections=connections,
        )
