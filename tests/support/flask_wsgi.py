"""The Flask example (``examples/flask_app.py``) as gunicorn serves it in ``test_gunicorn.py``.

Like a deployment's ``wsgi.py``, this makes the app's one client at import and uses it once
(checking the configuration at start-up): under ``--preload`` both happen in gunicorn's
master, so the client holds a kept-alive connection when the workers are forked.
"""

from __future__ import annotations

from examples.flask_app import create_app
from together_finetune import Client

client = Client()
client.fine_tunes.list()
app = create_app(client)
