"""POST /webhooks/twilio/sms: inbound texts."""
