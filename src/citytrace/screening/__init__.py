"""Screening clinics: the registry, booking, the arrival queue, samples, results and their
notification, the clinic finder and capacity planning."""
