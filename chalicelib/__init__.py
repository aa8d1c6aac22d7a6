"""The booking core of the serverless Chrono API (everything but the route table)."""
