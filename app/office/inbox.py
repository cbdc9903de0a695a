"""Office pages: inbox."""
