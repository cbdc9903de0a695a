"""Office pages: jobs."""
