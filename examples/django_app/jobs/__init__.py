"""Fine-tuning jobs, read from Together's API: a JSON view and a management command."""
