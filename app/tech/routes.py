"""The technician's phone pages."""
