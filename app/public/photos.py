"""Public profile photos (for MMS), addressed by an unguessable token."""
