"""The phone simulator (only while the fake Twilio is active)."""
