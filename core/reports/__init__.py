"""Reports: what finance and operations read, shaped from the daily roll-ups."""
