"""What every package shares: settings, the database, the clock, logging and the job queue."""
