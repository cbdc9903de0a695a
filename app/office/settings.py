"""Office pages: settings."""
