"""The embedded local stack of `make run` and of the tests: never packaged, never imported by the app."""
