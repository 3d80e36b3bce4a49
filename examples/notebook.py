# %% [markdown]
# # Fine-tuning from a notebook
#
# Upload a data set, see the price, start a job, watch it, plot its loss and download the
# model. Open this file as a notebook (VS Code and PyCharm run the `# %%` cells; jupytext
# turns it into an `.ipynb`), or run it as a script: `python examples/notebook.py`.
#
# With `TOGETHER_API_KEY` set, the cells use the real API (set `TRAINING_DATA` to your
# own `.jsonl`); without it they use the library's built-in fake API, so nothing is
# spent. Needs the `pandas` and `plot` extras (and `testing` for the fake):
# `pip install 'together-finetune[pandas,plot,testing]'`.

# %%
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from together_finetune import Client, LoRATraining

try:
    from IPython.display import display
except ImportError:  # a plain script: print the objects' one-line repr instead of a table
    display = print

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
HERE = Path(__file__).parent if "__file__" in globals() else Path.cwd()
TRAINING_DATA = Path(os.environ.get("TRAINING_DATA", HERE / "data" / "sample.jsonl"))
OUTPUT = Path(os.environ.get("NOTEBOOK_OUTPUT") or tempfile.mkdtemp(prefix="together-notebook-"))
# Seconds between polls (and, on the fake API, per lifecycle step); the tests run it fast.
POLL_SECONDS = float(os.environ.get("NOTEBOOK_POLL_SECONDS", "1"))

fake = None
if os.environ.get("TOGETHER_API_KEY"):
    client = Client()
else:
    from together_finetune.testing import FakeTogether

    print("TOGETHER_API_KEY is not set: using the built-in fake API")
    fake = FakeTogether(step_seconds=POLL_SECONDS).start()
    client = Client(api_key=fake.api_key, base_url=fake.base_url)

# %% [markdown]
# ## Upload the training data
# The file is checked locally first; an identical file already uploaded is reused.

# %%
training_file = client.files.upload(TRAINING_DATA)
display(training_file)

# %% [markdown]
# ## What will it cost?

# %%
estimate = client.fine_tunes.estimate_price(training_file=training_file.id, model=MODEL, n_epochs=1)
display(estimate)
if estimate.allowed_to_proceed is False:
    raise SystemExit(f"the API says this job cannot start: {estimate}")

# %% [markdown]
# ## Start the job

# %%
job = client.fine_tunes.create(
    training_file=training_file.id,
    model=MODEL,
    training_type=LoRATraining(lora_r=8),
    n_epochs=1,
)
display(job)

# %% [markdown]
# ## Watch it
# One line per event until the job ends; re-run the cell to keep watching.

# %%
for event in client.fine_tunes.follow_events(job.id, poll_interval=POLL_SECONDS):
    print(f"{event.created_at:%H:%M:%S}  {event.message}")
job = client.fine_tunes.retrieve(job.id)
display(job)

# %% [markdown]
# ## Loss
# The metrics as a DataFrame indexed by step, and the loss curves.

# %%
metrics = client.fine_tunes.metrics_frame(job.id)
display(metrics.tail())

ax = client.fine_tunes.plot_metrics(job.id)
ax.figure.savefig(OUTPUT / "loss.png", dpi=80)
print(f"loss plot saved to {OUTPUT / 'loss.png'}")

# %% [markdown]
# ## Download the model

# %%
display(client.fine_tunes.list_checkpoints(job.id))
result = client.fine_tunes.download(job.id, output=OUTPUT)
print(f"downloaded {result.size} bytes to {result.path}")

# %%
client.close()
if fake is not None:
    fake.stop()
