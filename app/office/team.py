"""Office pages: team."""
