"""Training, evaluation, export and prediction around the OD API (via odhelper.od)."""
