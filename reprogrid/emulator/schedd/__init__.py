"""The emulated schedd: job ads from submit files (through the bindings), the queue and
matchmaking against the machine ads."""
