"""POST /webhooks/twilio/voice: calls to the custom number."""
