"""Message contracts between services (and from outside callers), by domain."""
