"""The staff console in the browser (docs/console.md)."""
