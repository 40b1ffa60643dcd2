"""Follow-ups: the pre-saves of the days the artist posted reminders, against the campaign's baseline."""
