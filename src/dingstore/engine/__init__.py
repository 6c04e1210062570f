"""The task engine's mechanics: claiming tasks under a lease, running them in fenced steps,
recording progress. It knows no task kind: the service layer registers a handler per kind."""
