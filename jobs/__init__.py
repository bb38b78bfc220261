"""Background work: the job queue (claimed by guarded UPDATE) and the worker that runs it."""
