"""A minimal Django project that shows fine-tuning jobs (see ``jobs``)."""
