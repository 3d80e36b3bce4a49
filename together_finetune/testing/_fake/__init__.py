"""The fake API's rooms, composed by :class:`~together_finetune.testing.server.FakeTogether`.

From the ground up: ``errors`` (ErrorData bodies), ``exchanges`` (recorded requests and
their observers), ``clock``, ``context`` (what the sub-apps share), ``http`` (the threaded
HTTP/1.1 server), ``faults``, ``bodies`` (download bodies with Range support), ``storage``
(the second server), ``jobs`` (the job model), and the sub-apps ``jobs_api``, ``catalog``,
``downloads`` and ``files``, which ``api`` routes to. No module here imports the facade.
"""
