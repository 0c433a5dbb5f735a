"""The lane agent: a process per lot between its cameras and gates and the centre (断点续传)."""
