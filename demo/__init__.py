"""Demo data (fake people, numbers from the range reserved for fiction) and demo bookings."""
