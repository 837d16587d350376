"""Per-answer scoring and the final report on Celery workers (lands with the evaluation issue)."""
