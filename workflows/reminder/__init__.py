"""The SMS reminder of a booked visit (S1–S16): the process (`process.Reminder`), the bookings it answers
for (`bookings`), how it sends (`sending`), the types it runs as (`generations`: `REMINDER_TYPES`), the
reminders a group booking or an invitation starts (`children`)."""
