"""Level 3 training aid: scenarios from the seeds, a quiz, and the 7-minute briefing."""
