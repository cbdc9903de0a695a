"""POST /webhooks/twilio/status: delivery status callbacks."""
