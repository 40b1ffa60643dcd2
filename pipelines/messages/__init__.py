"""Fan messages: the release-day message and the re-ask, planned in the message ledger and sent over SMTP."""
