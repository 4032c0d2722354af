"""The emulated starter: one job's sandbox, file transfer, environment and arguments, its
process tree, and the job event log it writes."""
