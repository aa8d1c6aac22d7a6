"""Booking rules as plain functions and dataclasses: no I/O, time passed in."""
