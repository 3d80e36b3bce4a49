"""The engines that move bytes: private, each taking a transport and plain data.

- :mod:`.stream`: the resumable, verified, atomic download of one URL path.
- :mod:`.model`: planning a model download from a job (pure) and running it.
- :mod:`.archive`: safe extraction of a downloaded model archive.
- :mod:`.upload`: the storage upload, single ``PUT`` or multipart.
- :mod:`.progress`: progress bars and byte counters.

No engine knows a resource object (``FineTunes``, ``Files``): the resources
decide what to move and call in here; the public names are re-exported by
:mod:`together_finetune.download` and :mod:`together_finetune.files`.
"""
