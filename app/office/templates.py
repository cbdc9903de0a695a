"""Office pages: templates."""
