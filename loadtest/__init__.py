"""Load tests for a deployed inference stack: the Locust file, its helpers and a runner (see README.md)."""
