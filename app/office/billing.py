"""Office pages: billing."""
